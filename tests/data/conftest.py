"""Image files the data tests generate: real JPEG/PNG/BMP/GIF encodings of random pictures."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, pixels: np.ndarray, fmt: str, mode: str | None = None) -> Path:
    """Encodes `pixels` (uint8 [H, W, 3]) with PIL as `fmt`, converted to `mode` if given."""
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)
    return path


def jpeg_bytes(pixels: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def smooth_picture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB picture (JPEG keeps it well, so decoded pixels stay comparable)."""
    coarse = rng.uniform(0, 255, (4, 4, 3)).astype("float32")
    image = Image.fromarray(coarse.astype("uint8")).resize((width, height), Image.BILINEAR)
    return np.asarray(image)


@pytest.fixture
def image_folder(tmp_path, rng) -> Path:
    """3 classes x 6 images in several formats and sizes, each image unique."""
    root = tmp_path / "folder"
    formats = [("jpg", "JPEG"), ("png", "PNG"), ("bmp", "BMP"), ("gif", "GIF"), ("jpeg", "JPEG")]
    for label, name in enumerate(["cat", "dog", "fox"]):
        for i in range(6):
            extension, fmt = formats[i % len(formats)]
            pixels = smooth_picture(rng, 40 + 3 * i, 50 + 2 * label)
            write_image(root / name / f"{i}.{extension}", pixels, fmt)
    return root
