"""Images/s per CPU core of the ImageNet-style JPEG training pipeline, fused vs naive order.

python scripts/benchmark_data.py --images 512 --rounds 3

Generates full-size JPEGs (500x375, like ImageNet's), then times epochs of the `resnet` recipe
(shorter side in [256, 480], random 224 crop, flip, PCA lighting) with JPEG decoding fused with
the crop (`decode_and_crop_jpeg`, only the window is decoded and resized) against the naive
order (decode the whole image, resize it to S, then crop), alternating rounds in one process.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from keras_classics.data.benchmark import compare_orders, write_imagenet_like_jpegs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as directory:
        write_imagenet_like_jpegs(directory, args.images)
        comparison = compare_orders(
            directory, rounds=args.rounds, image_size=args.image_size, batch_size=args.batch_size
        )
    print(f"{args.images} JPEGs 500x375, {cores} cores, batch {args.batch_size}")
    for label, rate in (("fused decode-and-crop", comparison.ours), ("naive", comparison.peer)):
        print(f"{label:>22}: {rate:7.1f} images/s = {rate / cores:6.1f} per core")
    rounds = ", ".join(f"{r:.2f}" for r in comparison.round_ratios)
    print(f"ratio fused / naive: {comparison.ratio:.2f}x (per round: {rounds})")


if __name__ == "__main__":
    main()
