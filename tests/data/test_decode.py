"""The decoder: sizes read from headers alone, images over the pixel limit refused before they
are decoded (eagerly and inside tf.data), a 12000 x 12000 JPEG refused in bounded memory."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_classics.data.decode import decode_image, header_shape
from tests.data.test_sources import forged_jpeg
from tests.helpers import REPO


def encoded(fmt: str, height: int, width: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_the_header_gives_the_size(fmt):
    data = encoded(fmt, 37, 61)
    assert header_shape(tf.constant(data)).numpy().tolist() == [37, 61]
    assert decode_image(tf.constant(data), max_pixels=37 * 61).shape == (37, 61, 3)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="37 x 61 pixels, over the limit of 2,"
    ):
        decode_image(tf.constant(data), max_pixels=37 * 61 - 1)


def test_a_bomb_is_refused_inside_a_dataset():
    bomb = forged_jpeg(encoded("JPEG", 16, 16), 12000, 12000)
    dataset = tf.data.Dataset.from_tensors(bomb).map(decode_image)
    with pytest.raises(tf.errors.InvalidArgumentError, match="12000 x 12000 pixels, over the"):
        next(iter(dataset))


def test_a_12000_pixel_square_jpeg_is_refused_in_bounded_memory(tmp_path):
    """A real 12000 x 12000 JPEG through the evaluation preprocessing, in a fresh process:
    refused, its peak resident memory rising < 100 MB (decoding it costs 3.9 GB)."""
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (12000, 12000), (90, 120, 30)).save(path, quality=50)
    script = (
        "import resource, tensorflow as tf\n"
        "from keras_classics.data.evaluation import decode_image, preprocess_for_eval\n"
        f"data = tf.io.read_file({str(path)!r})\n"
        "print('before_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
        "try:\n"
        "    preprocess_for_eval(decode_image(data), image_size=224)\n"
        "    print('decoded')\n"
        "except tf.errors.InvalidArgumentError as error:\n"
        "    print('refused', error.message.splitlines()[0][-80:])\n"
        "print('peak_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.splitlines()
    assert lines[1].startswith("refused") and "12000 x 12000 pixels" in lines[1], done.stderr
    before, peak = int(lines[0].split()[1]), int(lines[-1].split()[1])
    assert peak - before < 100, lines  # MB: TensorFlow's own import is most of `before`
