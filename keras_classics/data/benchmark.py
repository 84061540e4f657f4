"""Images/s of the ImageNet-style JPEG training pipeline: fused decode-and-crop vs naive order."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_classics.benchmark import Comparison
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
