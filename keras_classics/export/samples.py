"""Generated images, encoded as JPEG or PNG: warm-up requests, benchmarks, tests and examples."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

ENCODINGS = ("jpeg", "png")


def sample_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB [height, width, 3] image: smooth colour gradients plus a little noise, so
    that it compresses like a photograph and resizing it changes it visibly."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    cols = np.linspace(0.0, 1.0, width)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (1, 1, 3))
    image = 127.5 + 100 * np.sin(2 * np.pi * (rows * 1.5 + cols * 0.8) + phase)
    image = image + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_image(image: np.ndarray, encoding: str = "jpeg") -> bytes:
    """uint8 RGB [H, W, 3] -> encoded bytes ("jpeg" at quality 90, or "png")."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding={encoding!r} is not valid; choose one of {list(ENCODINGS)}")
    if encoding == "jpeg":
        return tf.io.encode_jpeg(image, quality=90).numpy()
    return tf.io.encode_png(image).numpy()


def sample_encoded(height: int, width: int, encoding: str = "jpeg", seed: int = 0) -> bytes:
    """`sample_image(height, width, seed)` encoded as `encoding`."""
    return encode_image(sample_image(height, width, seed), encoding)
