"""Latency and throughput of an export's image-bytes signature vs the Keras model, on CPU.

python -m benchmarks.export --model resnet50 --iterations 30 --batch-iterations 3
python -m benchmarks.export --model resnet20 --normalization cifar10 --resize-size 32

Three ways to classify the same images, timed in one process, interleaved (each iteration runs
every path once, so slow drifts of the machine hit all of them):
- `keras`: `model.predict_on_batch` on images already decoded and preprocessed (outside the
  timing) by the evaluation pipeline;
- `tensor`: the export's `serving_default` signature on the same preprocessed images;
- `bytes`: the export's `serving_bytes` signature on the encoded JPEGs (decode, resize, crop
  and normalise in the graph).
`bytes / keras` is the cost of serving encoded images instead of tensors; `bytes / tensor`
isolates the in-graph decoding and preprocessing within the same SavedModel runtime.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_classics.cli import add_model_arguments
from keras_classics.data.evaluation import decode_image, preprocess_for_eval
from keras_classics.export import samples, spec
from keras_classics.export.serving import export_saved_model, read_metadata
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import get_entry

PATHS = ("keras", "tensor", "bytes")
PATH_LABELS = {
    "keras": "Keras model.predict_on_batch, preprocessed input",
    "tensor": f"export {spec.SIGNATURE_IMAGES}, preprocessed input",
    "bytes": f"export {spec.SIGNATURE_BYTES}, JPEG bytes",
}
# Photograph-like sizes (ImageNet's typical 500x375), landscape and portrait.
IMAGE_SHAPES = ((375, 500), (500, 375))


@dataclass(frozen=True)
class PathTiming:
    """Latencies of batch-1 calls (ms) and seconds per large-batch call of one path."""

    path: str
    latencies_ms: tuple[float, ...]
    batch_seconds: tuple[float, ...]
    batch_size: int

    def latency(self, percentile: float) -> float:
        """The `percentile` (0-100) of the batch-1 latencies, in ms."""
        return float(np.percentile(self.latencies_ms, percentile))

    @property
    def throughput(self) -> float:
        """Images/s at `batch_size`, from the median call."""
        return self.batch_size / statistics.median(self.batch_seconds)


def jpeg_batch(count: int, seed: int = 0) -> list[bytes]:
    """`count` distinct generated JPEGs of about 500x375 (landscape and portrait in turn)."""
    return [
        samples.sample_encoded(*IMAGE_SHAPES[i % len(IMAGE_SHAPES)], "jpeg", seed=seed + i)
        for i in range(count)
    ]


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def benchmark_export(
    model: keras.Model,
    *,
    normalization: str = "mean",
    image_size: int | None = None,
    resize_size: int | None = None,
    iterations: int = 50,
    batch_size: int = 32,
    batch_iterations: int = 5,
    warmup: int = 2,
) -> list[PathTiming]:
    """Exports `model` to a temporary directory, loads it back and times the three paths:
    `iterations` batch-1 calls and `batch_iterations` calls at `batch_size` each."""
    with tempfile.TemporaryDirectory() as base:
        version_dir = export_saved_model(
            model,
            base,
            normalization=normalization,
            image_size=image_size,
            resize_size=resize_size,
            warmup=False,
        )
        config = read_metadata(version_dir)
        loaded = tf.saved_model.load(str(version_dir))
        encoded = jpeg_batch(max(batch_size, iterations))
        preprocessed = np.stack(
            [
                preprocess_for_eval(
                    decode_image(image),
                    image_size=config["image_size"],
                    resize_size=config["resize_size"],
                    normalization=config["normalization"],
                ).numpy()
                for image in encoded
            ]
        )
        tensor_fn = loaded.signatures[spec.SIGNATURE_IMAGES]
        bytes_fn = loaded.signatures[spec.SIGNATURE_BYTES]
        if config["channels_first"]:
            keras_input = np.transpose(preprocessed, (0, 3, 1, 2))
        else:
            keras_input = preprocessed
        calls = {
            "keras": lambda s: model.predict_on_batch(keras_input[s]),
            "tensor": lambda s: _numpy(tensor_fn(images=tf.constant(preprocessed[s]))),
            "bytes": lambda s: _numpy(bytes_fn(image_bytes=tf.constant(encoded[s]))),
        }
        big = slice(0, batch_size)
        for _ in range(warmup):
            for call in calls.values():
                call(slice(0, 1))
                call(big)
        latencies: dict[str, list[float]] = {path: [] for path in PATHS}
        for i in range(iterations):
            for path in PATHS:
                one = slice(i % len(encoded), i % len(encoded) + 1)
                latencies[path].append(1000 * _timed(lambda p=path, s=one: calls[p](s)))
        seconds: dict[str, list[float]] = {path: [] for path in PATHS}
        for _ in range(batch_iterations):
            for path in PATHS:
                seconds[path].append(_timed(lambda p=path: calls[p](big)))
    return [
        PathTiming(path, tuple(latencies[path]), tuple(seconds[path]), batch_size) for path in PATHS
    ]


def _numpy(outputs: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in outputs.items()}


def report(timings: list[PathTiming]) -> str:
    """A table of p50 / p99 latency and throughput per path, and the overhead ratios."""
    by_path = {timing.path: timing for timing in timings}
    batch = timings[0].batch_size
    lines = [f"{'path':<52} {'p50 ms':>8} {'p99 ms':>8} {f'img/s@{batch}':>10}"]
    for timing in timings:
        lines.append(
            f"{PATH_LABELS[timing.path]:<52} {timing.latency(50):>8.2f} "
            f"{timing.latency(99):>8.2f} {timing.throughput:>10.1f}"
        )
    for reference in ("keras", "tensor"):
        ours, theirs = by_path["bytes"], by_path[reference]
        p50, p99 = (ours.latency(q) / theirs.latency(q) for q in (50, 99))
        lines.append(
            f"overhead bytes / {reference}: latency p50 {p50:.2f}x, p99 {p99:.2f}x; "
            f"time per batch of {batch} {theirs.throughput / ours.throughput:.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--normalization", default="mean", choices=list(NORMALIZATIONS))
    parser.add_argument("--image-size", type=int, help="served crop (default: model input)")
    parser.add_argument("--resize-size", type=int, help="shorter side before the centre crop")
    parser.add_argument("--iterations", type=int, default=50, help="batch-1 calls per path")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batch-iterations", type=int, default=5, help="large-batch calls")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)

    tf.config.set_visible_devices([], "GPU")  # CPU figures, as documented
    model = get_entry(args.model).build(**dict(args.model_option))
    timings = benchmark_export(
        model,
        normalization=args.normalization,
        image_size=args.image_size,
        resize_size=args.resize_size,
        iterations=args.iterations,
        batch_size=args.batch_size,
        batch_iterations=args.batch_iterations,
        warmup=args.warmup,
    )
    print(
        f"{model.name}: TensorFlow {tf.__version__} on CPU ({os.cpu_count()} cores, "
        f"{platform.machine()}); {args.iterations} batch-1 calls and {args.batch_iterations} "
        f"calls at batch {args.batch_size} per path"
    )
    print(report(timings))


if __name__ == "__main__":
    main()
