"""Checkpoints for automatic resume: model, optimizer, schedule state and progress counters.

`tf.train.Checkpoint` + `tf.train.CheckpointManager`, the multi-worker pattern of the
TensorFlow guide "Multi-worker training with Keras" (section "Model saving and loading"):
every worker saves (distributed variables may need all of them), the chief into the real
directory, the others into a temporary per-worker directory they delete afterwards, so no
worker ever overwrites the chief's files or another worker's. Every worker restores from the
real directory, which must therefore be shared (a network file system, GCS, S3).
A checkpoint is written completely before the manager's index points at it, so a process
killed while saving leaves the previous checkpoint as the latest (and a `*_temp` directory, or
a worker's `.worker-*` directory, removed when the next run starts). A checkpoint that cannot
be read (truncated, deleted shard) is skipped with its reason, and restore walks back through
the older kept ones.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from keras_classics.durable import fault_point
from keras_classics.training.strategies import WORKER_DIR_PREFIX, Task, chief_or_worker_dir


@dataclass(frozen=True)
class Progress:
    """Where a run stands: completed epochs, steps done in the current epoch."""

    epoch: int = 0
    step: int = 0

    def global_step(self, steps_per_epoch: int) -> int:
        return self.epoch * steps_per_epoch + self.step


class Checkpoints:
    """Saves and restores one run's training state in `directory`."""

    def __init__(
        self,
        directory: str | os.PathLike,
        task: Task,
        *,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        extra: dict[str, tf.Variable] | None = None,
        max_to_keep: int = 3,
    ) -> None:
        self.directory = os.fspath(directory)
        self.task = task
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            epoch=self._epoch,
            step_in_epoch=self._step,
            **(extra or {}),
        )
        self._write_dir = chief_or_worker_dir(self.directory, task)
        if task.is_chief:
            remove_partial_saves(self.directory)
        self._manager = tf.train.CheckpointManager(
            self.checkpoint, self._write_dir, max_to_keep=max_to_keep
        )

    def latest(self) -> str | None:
        """The newest complete checkpoint of the run (in the chief's directory), if any."""
        return tf.train.latest_checkpoint(self.directory)

    def kept(self) -> list[str]:
        """The run's kept checkpoints (in the chief's directory), newest first."""
        state = tf.train.get_checkpoint_state(self.directory)
        return list(reversed(state.all_model_checkpoint_paths)) if state else []

    def restore(
        self, start: str | None = None, log: Callable[[str], None] = print
    ) -> tuple[Progress, str | None]:
        """Restores the newest readable checkpoint (or `start`: a checkpoint prefix or a
        directory of checkpoints); returns the progress it recorded and its path. Unreadable
        newer ones are skipped, each reported through `log` with its reason."""
        candidates = self.kept() if start is None else [find_checkpoint(start)]
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except AssertionError as error:
                raise ValueError(
                    f"checkpoint {path} does not match this run (another model, optimizer or "
                    f"schedule?): {str(error)[:300]}. Use another checkpoint directory, or "
                    "--resume none to start over"
                ) from None
            except Exception as error:  # truncated or missing files: TF raises many kinds
                reason = str(error).strip().splitlines()[0][:200] if str(error) else ""
                log(f"skipped checkpoint {path}: unreadable ({type(error).__name__}: {reason})")
                continue
            return Progress(int(self._epoch.numpy()), int(self._step.numpy())), path
        if candidates:
            raise ValueError(
                f"no readable checkpoint among {candidates}; --resume none starts over"
            )
        return Progress(), None

    def save(self, progress: Progress, number: int) -> str | None:
        """Saves the state at `progress` as checkpoint `number` (e.g. the global step);
        returns its path on the chief, None on the other workers."""
        self._epoch.assign(progress.epoch)
        self._step.assign(progress.step)
        path = self._manager.save(checkpoint_number=number)
        fault_point("checkpoint")
        if not self.task.is_chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)
            return None
        return path


def find_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint prefix `path` names: itself, or the newest one in a directory."""
    path = os.fspath(path)
    prefix = tf.train.latest_checkpoint(path) if os.path.isdir(path) else path
    if prefix is None or not tf.io.gfile.exists(f"{prefix}.index"):
        raise ValueError(
            f"{path!r} is not a checkpoint: give a checkpoint prefix (e.g. "
            "runs/NAME/checkpoints/ckpt-20) or a directory holding checkpoints"
        )
    return prefix


def remove_checkpoints(directory: str | os.PathLike, task: Task) -> None:
    """Deletes a run's checkpoints to start it over (the chief only; before `Checkpoints`)."""
    if task.is_chief and os.path.isdir(directory):
        shutil.rmtree(directory)


def remove_partial_saves(directory: str | os.PathLike) -> None:
    """Deletes what a save killed midway leaves behind: `*_temp` directories, and the
    temporary directories of the other workers (`.worker-*`), which they delete after a save."""
    root = Path(directory)
    if root.is_dir():
        for partial in [*root.glob("*_temp*"), *root.glob(f"{WORKER_DIR_PREFIX}*")]:
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
