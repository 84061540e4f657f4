"""A synthetic, learnable dataset for throughput runs and tests: `--dataset synthetic`.

Each class is a random coarse colour pattern; each image is its class's pattern plus noise, so
a network learns it in a few steps, without files or downloads. The images are 32x32, like
CIFAR's; the pipeline resizes them to any crop size (the patterns are coarse: 4x4 blocks).
"""

from __future__ import annotations

import numpy as np

from keras_classics.data import DataSource, from_arrays

NAME = "synthetic"
SIZES = {"train": 512, "test": 128}
NUM_CLASSES = 10
IMAGE_SIZE = 32


def synthetic_arrays(
    count: int, image_size: int, num_classes: int = NUM_CLASSES, seed: int = 0, noise: float = 40.0
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB images [count, size, size, 3], int labels [count]); one pattern per class.

    The patterns depend only on the class (the same for every seed), the noise and the
    labels on `seed`.
    """
    patterns = np.random.default_rng(12345).uniform(40, 215, (num_classes, 4, 4, 3))
    repeat = -(-image_size // 4)
    patterns = patterns.repeat(repeat, 1).repeat(repeat, 2)[:, :image_size, :image_size]
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % num_classes)
    images = patterns[labels] + rng.normal(0, noise, (count, image_size, image_size, 3))
    return np.clip(np.round(images), 0, 255).astype(np.uint8), labels


def synthetic_source(*, sizes: dict[str, int] | None = None, seed: int = 0) -> DataSource:
    """The synthetic source: splits "train" and "test" (`SIZES`) of 32x32 images."""
    sizes = sizes or SIZES
    splits = {
        split: synthetic_arrays(count, IMAGE_SIZE, seed=seed + index)
        for index, (split, count) in enumerate(sizes.items())
    }
    return from_arrays(splits, class_names=[f"class_{i}" for i in range(NUM_CLASSES)], name=NAME)
