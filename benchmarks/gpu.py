"""The zoo's speed on one accelerator, side by side with keras.applications and torchvision.

Our models and keras.applications' run under Keras 3's JAX backend (a jitted stateless train
step, as Keras's own JAX trainer does); torchvision's run in PyTorch (channels_last, bf16
autocast, `torch.compile`). Every figure is taken in alternating rounds in one process, so a
drift of the machine (clocks, temperature, a neighbour) reaches every candidate alike:

    KERAS_BACKEND=jax python -m benchmarks.gpu --out results/  # docs/performance.md
    KERAS_BACKEND=jax python -m benchmarks.gpu --tiny --models alexnet_owt,tv_alexnet --out /tmp/g

Per candidate: training images/s (bf16 mixed precision, SGD with momentum, synthetic data
already on the device), inference images/s at the same batch, latency at batch 1, peak device
memory of the training step and compile time. Per pair: the speed ratio first / second (> 1:
the first is faster) as the median of the per-round ratios, with their range. Results go to
`gpu.csv` and `gpu.md` in `--out`, rewritten after each group so a cut-off run keeps what it
measured.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave room for PyTorch

import jax
import keras
import numpy as np
import torch

import keras_classics as kc
from keras_classics.weights.torchvision import import_torchvision

GIB = 2**30
OURS = "keras_classics"
METRICS = ("train", "infer", "latency")


@dataclass(frozen=True)
class Candidate:
    """One model to time: `build(image_size, classes)` returns a Keras model or a torch module."""

    name: str  # what --models takes
    source: str  # "keras_classics" and "keras.applications" run in Keras (JAX); "torchvision"
    build: Callable

    @property
    def framework(self) -> str:
        return "torch" if self.source == "torchvision" else "keras"


@dataclass(frozen=True)
class Group:
    """Models timed against each other, at one input size, and the pairs whose ratio we report."""

    name: str
    image_size: int
    tiny_image_size: int
    candidates: tuple[Candidate, ...]
    pairs: tuple[tuple[str, str], ...]


def _keras(builder: Callable, **options) -> Callable:
    def build(image_size: int, classes: int) -> keras.Model:
        shape = (image_size, image_size, 3)
        return builder(
            input_shape=shape, classes=classes, weights=None, classifier_activation=None, **options
        )

    return build


def _without_lrn(build: Callable) -> Callable:
    """An ablation: the model `build` makes, with each LRN layer replaced by an identity."""

    def ablated(image_size: int, classes: int) -> keras.Model:
        def replace(layer: keras.layers.Layer) -> keras.layers.Layer:
            if isinstance(layer, kc.layers.LocalResponseNormalization):
                return keras.layers.Identity(name=layer.name)
            return layer.__class__.from_config(layer.get_config())

        return keras.models.clone_model(build(image_size, classes), clone_function=replace)

    return ablated


def _torchvision(name: str) -> Callable:
    def build(image_size: int, classes: int) -> torch.nn.Module:
        return getattr(import_torchvision().models, name)(num_classes=classes)

    return build


GROUPS = (
    Group(
        "resnet50",
        224,
        64,
        (
            Candidate("resnet50_v1_5", OURS, _keras(kc.ResNet50, stride_in_1x1=False)),
            Candidate("resnet50", OURS, _keras(kc.ResNet50)),
            Candidate("keras_resnet50", "keras.applications", _keras(keras.applications.ResNet50)),
            Candidate("tv_resnet50", "torchvision", _torchvision("resnet50")),
        ),
        (
            ("resnet50", "keras_resnet50"),
            ("resnet50_v1_5", "tv_resnet50"),
        ),
    ),
    Group(
        "alexnet",
        224,
        224,
        (
            Candidate("alexnet", OURS, _keras(kc.AlexNet, variant="paper")),
            Candidate("alexnet_one_tower", OURS, _keras(kc.AlexNet, variant="one_tower")),
            Candidate(
                "alexnet_one_tower_no_lrn",
                "keras_classics, LRN ablated",
                _without_lrn(_keras(kc.AlexNet, variant="one_tower")),
            ),
            Candidate("alexnet_owt", OURS, _keras(kc.AlexNet, variant="owt")),
            Candidate("tv_alexnet", "torchvision", _torchvision("alexnet")),
        ),
        (
            ("alexnet", "alexnet_one_tower"),  # the cost of the two towers' grouped convolutions
            ("alexnet_one_tower", "alexnet_one_tower_no_lrn"),  # the cost of LRN
            ("alexnet_owt", "tv_alexnet"),
        ),
    ),
    Group(
        "vgg16",
        224,
        224,  # VGG's fully connected head needs its 7x7 map
        (
            Candidate("vgg16", OURS, _keras(kc.VGG16)),
            Candidate("tv_vgg16", "torchvision", _torchvision("vgg16")),
        ),
        (("vgg16", "tv_vgg16"),),
    ),
)

MODELS = {candidate.name: candidate for group in GROUPS for candidate in group.candidates}


@dataclass(frozen=True)
class Settings:
    """What one run measures: sizes, repetitions and PyTorch's compiler backend."""

    batch: int
    classes: int
    steps: int  # training / inference steps per timed round
    latency_calls: int  # batch-1 calls per timed round
    rounds: int
    torch_compile: str  # a torch.compile backend ("inductor"), or "none" for eager
    tiny: bool


class KerasRunner:
    """A Keras model under the JAX backend: jitted stateless train and predict functions."""

    def __init__(self, model: keras.Model, settings: Settings, image_size: int) -> None:
        optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def loss_and_state(trainable, non_trainable, images, labels):
            logits, non_trainable = model.stateless_call(
                trainable, non_trainable, images, training=True
            )
            return loss_fn(labels, logits), non_trainable

        gradients = jax.value_and_grad(loss_and_state, has_aux=True)

        def train_step(state, images, labels):
            trainable, non_trainable, slots = state
            (loss, non_trainable), grads = gradients(trainable, non_trainable, images, labels)
            trainable, slots = optimizer.stateless_apply(slots, grads, trainable)
            return (trainable, non_trainable, slots), loss

        def predict(trainable, non_trainable, images):
            return model.stateless_call(trainable, non_trainable, images, training=False)[0]

        self.state = tuple(
            [v.value for v in variables]
            for variables in (
                model.trainable_variables,
                model.non_trainable_variables,
                optimizer.variables,
            )
        )
        rng = np.random.default_rng(0)
        shape = (settings.batch, image_size, image_size, 3)
        self.images = jax.device_put(rng.standard_normal(shape, np.float32))
        self.labels = jax.device_put(rng.integers(0, settings.classes, settings.batch))
        self.one_image = self.images[:1]
        start = time.perf_counter()
        compiled = (
            jax.jit(train_step, donate_argnums=0)
            .lower(self.state, self.images, self.labels)
            .compile()
        )
        plan = compiled.memory_analysis()
        self.peak_bytes = (
            plan.argument_size_in_bytes
            + plan.output_size_in_bytes
            - plan.alias_size_in_bytes
            + plan.temp_size_in_bytes
        )
        self.train_step = compiled
        self.predict = jax.jit(predict)
        self.train(1)
        self.infer(1)
        self.latency(1)
        self.compile_s = time.perf_counter() - start

    def train(self, steps: int) -> float:
        """Seconds for `steps` training steps."""
        start = time.perf_counter()
        for _ in range(steps):
            self.state, loss = self.train_step(self.state, self.images, self.labels)
        jax.block_until_ready((self.state, loss))
        return time.perf_counter() - start

    def infer(self, steps: int) -> float:
        """Seconds for `steps` batched forward passes."""
        start = time.perf_counter()
        for _ in range(steps):
            outputs = self.predict(self.state[0], self.state[1], self.images)
        jax.block_until_ready(outputs)
        return time.perf_counter() - start

    def latency(self, calls: int) -> float:
        """The median seconds of `calls` batch-1 forward passes, each waited for."""
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            jax.block_until_ready(self.predict(self.state[0], self.state[1], self.one_image))
            times.append(time.perf_counter() - start)
        return statistics.median(times)


class TorchRunner:
    """A torchvision model: channels_last, bf16 autocast, `torch.compile`, SGD with momentum."""

    def __init__(self, module: torch.nn.Module, settings: Settings, image_size: int) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        held_before = self._allocated()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        self.module = module.to(self.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=0.01, momentum=0.9)
        backend = settings.torch_compile
        self.forward = (
            self.module if backend == "none" else torch.compile(self.module, backend=backend)
        )
        generator = torch.Generator().manual_seed(0)
        shape = (settings.batch, 3, image_size, image_size)
        self.images = torch.randn(shape, generator=generator).to(
            self.device, memory_format=torch.channels_last
        )
        self.labels = torch.randint(0, settings.classes, (settings.batch,), generator=generator)
        self.labels = self.labels.to(self.device)
        self.one_image = self.images[:1].contiguous(memory_format=torch.channels_last)
        start = time.perf_counter()
        self.train(2)  # compiles, then allocates the optimiser's momentum
        self.peak_bytes = self._peak() - held_before if self.device.type == "cuda" else None
        self.infer(1)
        self.latency(1)
        self.compile_s = time.perf_counter() - start

    def _allocated(self) -> int:
        return torch.cuda.memory_allocated() if self.device.type == "cuda" else 0

    def _peak(self) -> int:
        return torch.cuda.max_memory_allocated()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def train(self, steps: int) -> float:
        """Seconds for `steps` training steps."""
        self.module.train()
        self._sync()
        start = time.perf_counter()
        for _ in range(steps):
            with self._autocast():
                loss = torch.nn.functional.cross_entropy(self.forward(self.images), self.labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self._sync()
        return time.perf_counter() - start

    def infer(self, steps: int) -> float:
        """Seconds for `steps` batched forward passes."""
        self.module.eval()
        self._sync()
        start = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            for _ in range(steps):
                self.forward(self.images)
        self._sync()
        return time.perf_counter() - start

    def latency(self, calls: int) -> float:
        """The median seconds of `calls` batch-1 forward passes, each waited for."""
        self.module.eval()
        times = []
        with torch.inference_mode(), self._autocast():
            for _ in range(calls):
                start = time.perf_counter()
                self.forward(self.one_image)
                self._sync()
                times.append(time.perf_counter() - start)
        return statistics.median(times)


@dataclass
class Measured:
    """One candidate's figures: per round, images/s (train, infer) and seconds (latency)."""

    candidate: Candidate
    compile_s: float
    peak_bytes: int | None
    rounds: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})


def _speed(metric: str, value: float) -> float:
    """Larger is faster: images/s as they are, latency as calls per second."""
    return 1.0 / value if metric == "latency" else value


def measure_group(
    group: Group, chosen: set[str], settings: Settings, log: Callable[[str], None]
) -> list[Measured]:
    """Builds and warms the `chosen` candidates, then times them in rounds, rotating their order."""
    size = group.tiny_image_size if settings.tiny else group.image_size
    runners, results = [], []
    for candidate in (c for c in group.candidates if c.name in chosen):
        log(f"{group.name}: building and compiling {candidate.name} at {size}x{size}")
        model = candidate.build(size, settings.classes)
        runner_type = KerasRunner if candidate.framework == "keras" else TorchRunner
        runner = runner_type(model, settings, size)
        runners.append(runner)
        results.append(Measured(candidate, runner.compile_s, runner.peak_bytes))
        log(f"  compiled in {runner.compile_s:.1f} s")
    order = list(range(len(runners)))
    for round_index in range(settings.rounds):
        shift = round_index % len(order)
        for index in order[shift:] + order[:shift]:
            runner, result = runners[index], results[index]
            result.rounds["train"].append(
                settings.batch * settings.steps / runner.train(settings.steps)
            )
            result.rounds["infer"].append(
                settings.batch * settings.steps / runner.infer(settings.steps)
            )
            result.rounds["latency"].append(runner.latency(settings.latency_calls))
        log(f"  round {round_index + 1}/{settings.rounds} done")
    del runners
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return results


def pair_ratios(group: Group, results: list[Measured]) -> list[dict]:
    """Per pair and metric: the median, min and max over rounds of first / second speed."""
    by_name = {result.candidate.name: result for result in results}
    rows = []
    for first, second in group.pairs:
        if first not in by_name or second not in by_name:
            continue
        for metric in METRICS:
            ratios = [
                _speed(metric, a) / _speed(metric, b)
                for a, b in zip(
                    by_name[first].rounds[metric], by_name[second].rounds[metric], strict=True
                )
            ]
            rows.append(
                {
                    "group": group.name,
                    "metric": metric,
                    "first": first,
                    "second": second,
                    "ratio_median": statistics.median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                }
            )
    return rows


def candidate_rows(group: Group, results: list[Measured]) -> list[dict]:
    """One row per candidate: the median figure of each metric over the rounds."""
    return [
        {
            "group": group.name,
            "candidate": result.candidate.name,
            "source": result.candidate.source,
            "train_img_s": statistics.median(result.rounds["train"]),
            "infer_img_s": statistics.median(result.rounds["infer"]),
            "latency_ms": 1000 * statistics.median(result.rounds["latency"]),
            "peak_gib": None if result.peak_bytes is None else result.peak_bytes / GIB,
            "compile_s": result.compile_s,
        }
        for result in results
    ]


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def markdown(header: str, candidates: list[dict], ratios: list[dict]) -> str:
    """The two tables (candidates, pair ratios) as Markdown."""
    lines = [header, ""]
    for rows in (candidates, ratios):
        if not rows:
            continue
        keys = list(rows[0])
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_cell(row[k]) for k in keys) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def write_results(out: Path, header: str, candidates: list[dict], ratios: list[dict]) -> None:
    """`gpu.csv` (both tables, a `table` column tells them apart) and `gpu.md`."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "gpu.csv", "w", newline="") as file:
        keys = ["table", *dict.fromkeys(k for row in candidates + ratios for k in row)]
        writer = csv.DictWriter(file, keys)
        writer.writeheader()
        writer.writerows({"table": "candidates", **row} for row in candidates)
        writer.writerows({"table": "ratios", **row} for row in ratios)
    (out / "gpu.md").write_text(markdown(header, candidates, ratios))


def device_name() -> str:
    """The accelerator's name (or the CPU's) and the framework versions."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name()
    else:
        device = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return (
        f"{device}; JAX {jax.__version__} ({jax.default_backend()}), Keras {keras.__version__}, "
        f"PyTorch {torch.__version__}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu.csv and gpu.md")
    parser.add_argument("--tiny", action="store_true", help="small sizes, 2 steps: a CPU check")
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma-separated models to time, grouped as listed (default: all of {list(MODELS)})",
    )
    parser.add_argument("--batch", type=int, help="default 256 (--tiny: 2)")
    parser.add_argument("--steps", type=int, help="steps per round (default 20; --tiny: 1)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5; --tiny: 2)")
    parser.add_argument(
        "--torch-compile",
        help="torch.compile backend, or 'none' (default inductor; --tiny: eager, no C++ build)",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=float("inf"),
        help="start no new group after this many seconds (the device lease is short)",
    )
    args = parser.parse_args(argv)
    args.models = {name for name in args.models.split(",") if name}
    unknown = sorted(args.models - set(MODELS))
    if unknown or not args.models:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    for name in ("batch", "steps", "rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1; got {value}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if keras.backend.backend() != "jax":
        print("error: run with KERAS_BACKEND=jax", file=sys.stderr)
        return 2
    tiny = args.tiny
    settings = Settings(
        batch=args.batch or (2 if tiny else 256),
        classes=10 if tiny else 1000,
        steps=args.steps or (1 if tiny else 20),
        latency_calls=3 if tiny else 50,
        rounds=args.rounds or (2 if tiny else 5),
        torch_compile=args.torch_compile or ("eager" if tiny else "inductor"),
        tiny=tiny,
    )
    keras.config.set_dtype_policy("mixed_bfloat16")
    header = (
        f"{device_name()}. Batch {settings.batch}, {settings.steps} steps x {settings.rounds} "
        f"alternating rounds, bf16 mixed precision, torch.compile backend "
        f"{settings.torch_compile}."
    )
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    log(header)
    candidates, ratios = [], []
    for group in GROUPS:
        if not args.models & {candidate.name for candidate in group.candidates}:
            continue
        if time.perf_counter() - started > args.budget_s:
            log(f"{group.name}: skipped, past the budget of {args.budget_s:.0f} s")
            continue
        results = measure_group(group, args.models, settings, log)
        candidates += candidate_rows(group, results)
        ratios += pair_ratios(group, results)
        write_results(args.out, header, candidates, ratios)
    print(markdown(header, candidates, ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
