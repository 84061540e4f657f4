"""Images/s per CPU core of the ImageNet-style JPEG training pipeline, fused vs naive order.

python -m benchmarks.data --images 512 --rounds 3

Generates full-size JPEGs (500x375, like ImageNet's), then times epochs of the `resnet` recipe
(shorter side in [256, 480], random 224 crop, flip, PCA lighting) with JPEG decoding fused with
the crop (`decode_and_crop_jpeg`, only the window is decoded and resized) against the naive
order (decode the whole image, resize it to S, then crop), alternating rounds in one process.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks.comparison import Comparison
from keras_classics.data.pipeline import make_dataset
from keras_classics.data.sources import DataSource, from_folder

ORDERS = ("fused", "naive")


def write_imagenet_like_jpegs(
    directory: str | os.PathLike, count: int, *, size: tuple[int, int] = (375, 500), seed: int = 0
) -> Path:
    """`count` JPEGs of `size` (ImageNet's typical 500x375), quality 90, in 2 class folders.

    Smooth colour fields plus pixel noise, so that they compress to about ImageNet's file
    sizes (100-150 kB) rather than to a few kB.
    """
    rng = np.random.default_rng(seed)
    root = Path(directory)
    for index in range(count):
        coarse = tf.constant(rng.uniform(0, 255, (6, 8, 3)), tf.float32)
        image = tf.image.resize(coarse[None], size, method="bicubic")[0]
        image += rng.normal(0, 18, (*size, 3))
        image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
        path = root / f"class_{index % 2}" / f"{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_jpeg(image, quality=90).numpy())
    return root


def _images_per_second(source: DataSource, order: str, image_size: int, batch_size: int) -> float:
    dataset = make_dataset(
        source,
        "train",
        recipe="resnet",
        image_size=image_size,
        batch_size=batch_size,
        training=True,
        fused_decode=order == "fused",
        cache=True,  # files are read from memory: this measures decoding and augmentation
    )
    for _ in dataset.take(2):  # warm up: fill the cache, start the thread pool
        pass
    start, images = time.perf_counter(), 0
    for batch, _ in dataset:
        images += int(batch.shape[0])
    return images / (time.perf_counter() - start)


def compare_orders(
    directory: str | os.PathLike,
    *,
    rounds: int = 3,
    image_size: int = 224,
    batch_size: int = 32,
) -> Comparison:
    """Alternating timed epochs of the fused and the naive pipeline over the JPEGs in
    `directory` (images/s of the whole machine; divide by cores for per-core figures)."""
    source = from_folder(directory, validation_fraction=0.0, verify=False)
    fused, naive = [], []
    for _ in range(rounds):
        fused.append(_images_per_second(source, "fused", image_size, batch_size))
        naive.append(_images_per_second(source, "naive", image_size, batch_size))
    return Comparison("jpeg pipeline", tuple(fused), tuple(naive))


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
