"""Latency and throughput of an export's image-bytes signature vs the Keras model, on CPU.

python scripts/benchmark_export.py --model resnet50 --iterations 30 --batch-iterations 3
python scripts/benchmark_export.py --model resnet20 --normalization cifar10 --resize-size 32
"""

from __future__ import annotations

import argparse
import os
import platform

import tensorflow as tf

from keras_classics.cli import add_model_arguments
from keras_classics.export.benchmark import benchmark_export, report
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import get_entry


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
