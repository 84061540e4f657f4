"""tf.distribute strategies by name, the cluster role of this process, per-worker directories.

References: the TensorFlow guides "Distributed training with TensorFlow" and "Multi-worker
training with Keras" (TF_CONFIG, the chief, workers writing to temporary directories).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import tensorflow as tf

from keras_classics.cli import one_line

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(count: int) -> None:
    """Splits the first CPU into `count` logical devices (`/cpu:0` ... `/cpu:{count-1}`).

    Lets `mirrored` run over several replicas on a CPU-only machine (tests, trials). Must run
    before TensorFlow initialises its devices.
    """
    if count < 1:
        raise ValueError(f"the number of logical CPU devices must be at least 1; got {count}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:  # devices already initialised
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise ValueError(
                f"cannot split the CPU into {count} devices after TensorFlow initialised them"
            ) from error


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None


def _cluster_workers(config: dict) -> int:
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def _default_devices() -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [device.name for device in gpus]
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(
    name: str, devices: Sequence[str] | None = None, tpu: str | None = None
) -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGIES`).

    - `auto`: `multi_worker` when TF_CONFIG names more than one worker, else `mirrored` over
      several GPUs (or several logical CPUs, see `split_cpu`), `one_device` on one GPU, else
      `default`.
    - `default`: TensorFlow's default strategy (no distribution).
    - `one_device`: `devices[0]`, or the first GPU, or the CPU.
    - `mirrored`: synchronous data parallelism over `devices` (default: every GPU, else every
      logical CPU).
    - `multi_worker`: `MultiWorkerMirroredStrategy`, its cluster read from `TF_CONFIG`.
    - `tpu`: `TPUStrategy` on the TPU `tpu` (an address or name; default: the local one).
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    if devices and name not in ("one_device", "mirrored"):
        raise ValueError(f"a device list is for one_device and mirrored, not {name!r}")
    if name == "auto":
        if _cluster_workers(_tf_config()) > 1:
            name = "multi_worker"
        elif len(_default_devices()) > 1:
            name = "mirrored"
        elif tf.config.list_logical_devices("GPU"):
            name = "one_device"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        if devices and len(devices) != 1:
            raise ValueError(f"one_device takes exactly one device; got {list(devices)}")
        return tf.distribute.OneDeviceStrategy(devices[0] if devices else _default_devices()[0])
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(list(devices) if devices else _default_devices())
    if name == "multi_worker":
        if "cluster" not in _tf_config():
            raise ValueError(
                "strategy multi_worker needs TF_CONFIG in the environment, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}} (see docs/training.md)'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(
            f"strategy tpu: no TPU found ({error}); choose one of "
            f"{[s for s in STRATEGIES if s != 'tpu']} on this machine"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


@dataclass(frozen=True)
class Task:
    """This process's place in the cluster: a single machine is the chief, worker 0 of 1."""

    type: str = "worker"
    index: int = 0
    num_workers: int = 1
    cluster_has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        """The chief writes checkpoints, logs, reports and exports; other workers do not.

        The chief is the task of type `chief`, or worker 0 when the cluster has none.
        """
        if self.type == "chief":
            return True
        return self.type == "worker" and self.index == 0 and not self.cluster_has_chief

    @property
    def name(self) -> str:
        return f"{self.type}:{self.index}"


def task_of(strategy: tf.distribute.Strategy) -> Task:
    """The cluster role of this process under `strategy` (TF_CONFIG for multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return Task()
    cluster = resolver.cluster_spec().as_dict()
    return Task(
        resolver.task_type or "worker",
        int(resolver.task_id or 0),
        _cluster_workers({"cluster": cluster}),
        "chief" in cluster,
    )


# The per-worker temporary directories' names begin with this (`.worker-worker-1`).
WORKER_DIR_PREFIX = ".worker-"


def chief_or_worker_dir(directory: str | os.PathLike, task: Task) -> str:
    """Where this process writes: `directory` on the chief, a per-worker temporary directory
    inside it on the others (the TensorFlow multi-worker pattern), so that workers never
    overwrite each other's or the chief's files. Workers delete theirs after writing."""
    directory = os.fspath(directory)
    if task.is_chief:
        return directory
    return os.path.join(directory, f"{WORKER_DIR_PREFIX}{task.type}-{task.index}")


_TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")


def cluster_failure(error: BaseException) -> str:
    """One line for a cluster collective that failed (`tf.errors.UnavailableError`): this
    process's task (from TF_CONFIG), the other tasks TensorFlow names, its cause, what to do."""
    task = _tf_config().get("task", {})
    this = f"{task.get('type', 'worker')}:{task.get('index', 0)}"
    others = sorted({f"{kind}:{index}" for kind, index in _TASK.findall(str(error))} - {this})
    stopped = f"{', '.join(others)} stopped" if others else "another worker stopped"
    return (
        f"worker {this}: {stopped} ({type(error).__name__}: {one_line(error)}); start every "
        "worker again with the same command: they resume from the newest checkpoint"
    )


def describe(strategy: tf.distribute.Strategy) -> str:
    """One line: the strategy's class, replicas and devices."""
    try:
        devices = tuple(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy has none
        devices = ()
    return f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)" + (
        f" on {', '.join(devices)}" if devices else ""
    )
