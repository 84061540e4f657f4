"""Throughput of keras_classics models against their peers, measured side by side in one run.

    python scripts/benchmark.py                        # ResNet50, batch 32, 224x224
    python scripts/benchmark.py --pair vgg16 --batch-size 8 --steps 3
    python scripts/benchmark.py --pair alexnet_lrn
Pairs: resnet50 (vs keras.applications.ResNet50), vgg16 (vs keras.applications.VGG16),
alexnet_lrn (paper AlexNet with our LRN layer vs the same with tf.nn.local_response_normalization).
Prints median images/s of both and the median per-round ratio ours / peer (above 1.0: ours is
faster) with its min-max over the rounds.
"""

from __future__ import annotations

import argparse
import os
import platform

import keras

from keras_classics.benchmark import MODES, PAIRS, build_pair, compare


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", choices=list(PAIRS), default="resnet50")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)

    description, ours, peer = build_pair(args.pair, args.image_size)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(
        f"{description}, batch {args.batch_size}, {args.image_size}x{args.image_size}, "
        f"keras {keras.__version__} on {keras.backend.backend()}, {machine}"
    )
    print(f"{'mode':<10} {'ours img/s':>11} {'peer img/s':>11} {'ratio':>7}  (per-round min-max)")
    for mode in args.modes:
        result = compare(
            ours,
            peer,
            mode=mode,
            batch_size=args.batch_size,
            steps=args.steps,
            warmup=args.warmup,
            rounds=args.rounds,
        )
        spread = f"{min(result.round_ratios):.2f}-{max(result.round_ratios):.2f}"
        print(
            f"{mode:<10} {result.ours:>11.2f} {result.peer:>11.2f} {result.ratio:>6.2f}x"
            f"  ({spread})"
        )


if __name__ == "__main__":
    main()
