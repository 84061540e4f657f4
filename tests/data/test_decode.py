"""The decoder: sizes read from headers alone, images over the pixel limit refused before they
are decoded (eagerly and inside tf.data); EXIF orientation applied as PIL does, in both byte
orders, malformed EXIF ignored; large JPEGs decoded at a reduced scale, near-size ones exactly
as before; a 12000 x 12000 JPEG refused, or decoded in bounded memory under a raised limit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from keras_classics.data.augment import get_recipe, random_scale_crop
from keras_classics.data.decode import (
    DOWNSCALE_MARGIN,
    JPEG_RATIOS,
    decode_image,
    exif_orientation,
    header_shape,
    jpeg_ratio,
)
from keras_classics.data.evaluation import preprocess_for_eval
from keras_classics.data.pipeline import make_dataset
from keras_classics.data.sources import from_folder
from tests.data.test_sources import forged_jpeg
from tests.export.shared import PHOTOGRAPH, build_main_export, shared_once
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


# ----------------------------------------------------------------------------- EXIF orientation

# What makes an upright picture look stored with each orientation: the inverse of the transpose
# PIL's `ImageOps.exif_transpose` applies for it.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright_picture(height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth and asymmetric: every flip or rotation of it is far from it."""
    rows, columns = np.mgrid[0:height, 0:width]
    picture = np.stack(
        [255 * columns / width, 255 * rows / height, 200.0 * (rows < height // 3)], axis=-1
    )
    return picture.astype(np.uint8)


def oriented_jpeg(picture: np.ndarray, orientation: int | None, byte_order: str = "<") -> bytes:
    """`picture` stored as a camera with `orientation` stores it (None: no EXIF at all)."""
    image = Image.fromarray(picture)
    options = {}
    if orientation is not None:
        if STORED_AS[orientation] is not None:
            image = image.transpose(STORED_AS[orientation])
        exif = Image.Exif()
        exif.endian = byte_order
        exif[0x010F] = "Camera"  # Make, before the orientation in IFD0
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, subsampling=0, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pil_does(orientation):
    picture = upright_picture()
    for byte_order in "<>":  # "II" and "MM"
        data = oriented_jpeg(picture, orientation, byte_order)
        assert int(exif_orientation(tf.constant(data))) == orientation
        decoded = decode_image(tf.constant(data)).numpy().astype(int)
        assert decoded.shape == picture.shape, (orientation, byte_order)
        assert np.abs(decoded - picture).mean() < 1.5, (orientation, byte_order)
        reference = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
        assert np.abs(decoded - reference).max() <= 12, (orientation, byte_order)


def test_malformed_exif_is_ignored():
    picture = upright_picture()
    data = oriented_jpeg(picture, 6, ">")
    tiff = data.index(b"Exif\0\0") + 6
    entry = data.index(b"\x01\x12\x00\x03", tiff)  # the orientation entry (big-endian)
    broken = {
        "no EXIF": oriented_jpeg(picture, None),
        "byte order": data[:tiff] + b"XX" + data[tiff + 2 :],
        "IFD0 offset past the end": data[: tiff + 4] + b"\xff\xff\xff\x00" + data[tiff + 8 :],
        "value 9": data[: entry + 8] + b"\x00\x09" + data[entry + 10 :],
        "type LONG": data[: entry + 2] + b"\x00\x04" + data[entry + 4 :],
    }
    stored = upright_picture().transpose(1, 0, 2)[::-1]  # as orientation 6 stores it
    for name, encoded in broken.items():
        assert int(exif_orientation(tf.constant(encoded))) == 1, name
        decoded = decode_image(tf.constant(encoded)).numpy().astype(int)
        expected = picture if name == "no EXIF" else stored
        assert np.abs(decoded - expected).mean() < 1.5, name
    assert int(exif_orientation(tf.constant(b"\xff\xd8\xff\xe1\0\x10Exif\0\0MM"))) == 1


def test_exif_orientation_never_raises_on_random_damage(rng):
    data = bytearray(oriented_jpeg(upright_picture(), 6, "<"))
    start, end = 2, data.index(b"\xff\xdb")  # SOI .. the quantisation tables: APP0, APP1
    for _ in range(40):
        damaged = data.copy()
        for at in rng.integers(start, end, 6):
            damaged[at] = rng.integers(0, 256)
        assert 1 <= int(exif_orientation(tf.constant(bytes(damaged)))) <= 8


def test_from_folder_and_the_evaluation_pipeline_see_exif_photos_upright(tmp_path):
    picture = upright_picture()
    for orientation in (3, 6, 8):
        (tmp_path / "rotated").mkdir(exist_ok=True)
        (tmp_path / "rotated" / f"{orientation}.jpg").write_bytes(
            oriented_jpeg(picture, orientation)
        )
    (tmp_path / "upright").mkdir()
    (tmp_path / "upright" / "plain.jpg").write_bytes(oriented_jpeg(picture, None))
    source = from_folder(tmp_path, validation_fraction=0.5, verify=True)
    views = {0: [], 1: []}
    for split in source.splits:
        dataset = make_dataset(
            source,
            split,
            recipe="cifar",
            batch_size=4,
            training=False,
            image_size=32,
            resize_size=32,
            normalization="none",
        )
        for images, labels in dataset:
            for image, label in zip(images.numpy(), labels.numpy(), strict=True):
                views[int(label)].append(image)
    (plain,) = views[source.class_names.index("upright")]
    rotated = views[source.class_names.index("rotated")]
    assert len(rotated) == 3
    for view in rotated:
        assert np.abs(view - plain).mean() < 1.5


@pytest.fixture(scope="module")
def main_export(tmp_path_factory, worker_id) -> Path:
    """The export tests' main export (built once per test run, shared with them)."""
    return shared_once(tmp_path_factory, worker_id, "main_export", build_main_export)


def test_the_exported_bytes_signature_sees_exif_photos_upright(main_export):
    picture = upright_picture()
    batch = [oriented_jpeg(picture, o) for o in (None, 5, 6, 7, 8)]
    batch.append(oriented_jpeg(picture.transpose(1, 0, 2)[::-1], None))  # stored, no EXIF
    signature = tf.saved_model.load(str(main_export / "export" / "1")).signatures
    logits = signature["serving_default"](image_bytes=tf.constant(batch))["logits"].numpy()
    upright, rotated, sideways = logits[0], logits[1:-1], logits[-1]
    assert np.abs(rotated - upright).max() < 0.25 * np.abs(sideways - upright).max()


# ----------------------------------------------------------------------------- scaled decoding


def test_the_jpeg_ratio_keeps_the_shorter_side_above_the_margin():
    def ratio(height, width, side):
        return int(jpeg_ratio(tf.constant([height, width]), side))

    assert JPEG_RATIOS == (1, 2, 4, 8) and DOWNSCALE_MARGIN == 4  # 256 -> sides >= 1024 kept
    assert [ratio(427, 640, 256), ratio(2047, 4000, 256), ratio(2048, 4000, 256)] == [1, 1, 2]
    assert [ratio(4095, 9000, 256), ratio(9000, 4096, 256), ratio(8192, 8192, 256)] == [2, 4, 8]
    assert ratio(12000, 12000, 1) == 8


def test_near_size_jpegs_decode_exactly_as_before():
    data = tf.io.read_file(str(PHOTOGRAPH))  # 427 x 640: no scaled decoding for a 256 view
    expected = tf.io.decode_image(data, channels=3).numpy()
    np.testing.assert_array_equal(decode_image(data, min_side=256).numpy(), expected)
    # the evaluation view resizes uint8 directly: the same floats as resizing a float32 copy
    view = preprocess_for_eval(expected, normalization="none").numpy()
    reference = preprocess_for_eval(tf.cast(expected, tf.float32), normalization="none")
    np.testing.assert_array_equal(view, reference.numpy())


def test_a_large_jpeg_decodes_scaled_and_keeps_its_evaluation_view():
    big = Image.open(PHOTOGRAPH).resize((640 * 5, 427 * 5), Image.BICUBIC)  # 3200 x 2135
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    data = tf.constant(buffer.getvalue())
    assert decode_image(data, min_side=256).shape == (1068, 1600, 3)  # ratio 2
    scaled = preprocess_for_eval(decode_image(data, min_side=256), normalization="none")
    full = preprocess_for_eval(decode_image(data), normalization="none")
    # measured 1.05 of 255: about what TensorFlow's full-size view differs from PIL's (0.9)
    assert np.abs(scaled.numpy() - full.numpy()).mean() < 1.25


def test_decoding_at_one_eighth_fails_where_a_full_decode_fails(rng):
    """`from_folder(verify=True)` decodes JPEGs at 1/8 scale (`min_side=1`): truncated, damaged
    scans and damaged headers are caught exactly as a full decode catches them."""
    pixels = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    encoded_jpeg = buffer.getvalue()
    scan = encoded_jpeg.index(b"\xff\xda")

    def outcome(data: bytes, min_side: int | None) -> str:
        try:
            return str(decode_image(tf.constant(data), min_side=min_side).shape)
        except tf.errors.InvalidArgumentError:
            return "error"

    outcomes = set()
    for trial in range(30):
        data = bytearray(encoded_jpeg)
        if trial % 3 == 0:
            data = data[: rng.integers(scan + 20, len(data) - 2)]
        else:
            low = scan + 20 if trial % 3 == 1 else 2
            high = len(data) - 2 if trial % 3 == 1 else scan
            for at in rng.integers(low, high, 5):
                data[at] = rng.integers(0, 256)
        full = outcome(bytes(data), None)
        assert (outcome(bytes(data), 1) == "error") == (full == "error"), trial
        outcomes.add(full == "error")
    assert outcomes == {True, False}  # both kinds of file were tried


# ----------------------------------------------------------------------------- memory


@pytest.fixture(scope="session")
def huge_jpeg(tmp_path_factory) -> Path:
    """A real 12000 x 12000 JPEG (about 2 MB), made once per test session."""
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    Image.new("RGB", (12000, 12000), (90, 120, 30)).save(path, quality=50)
    return path


MEMORY_PROBE = """
import json, sys, tensorflow as tf
from keras_classics.data.evaluation import decode_image, preprocess_for_eval
def rss(field):
    return next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith(field))
data = tf.io.read_file(sys.argv[1])
before = rss("VmRSS")
try:
    outcome = preprocess_for_eval(decode_image(data, min_side=256), image_size=224).shape
    outcome = "decoded " + "x".join(map(str, outcome))
except tf.errors.InvalidArgumentError as error:
    outcome = "refused: " + error.message.splitlines()[0]
print(json.dumps({"before_mb": before, "peak_mb": rss("VmHWM"), "outcome": outcome}))
"""


@pytest.mark.parametrize("limit", [None, 150_000_000])
def test_a_12000_pixel_square_jpeg_is_refused_or_decoded_in_bounded_memory(huge_jpeg, limit):
    """In a fresh process through the evaluation view at 224 (the bytes signature decodes the
    same way): refused from its header at the default limit, peak RSS rising < 100 MB; decoded
    at 1/8 scale under a raised limit, peak RSS < 1 GB in all (decoding it whole cost 3 GB)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    env.pop("KC_MAX_IMAGE_PIXELS", None)
    if limit:
        env["KC_MAX_IMAGE_PIXELS"] = str(limit)
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(huge_jpeg)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    if limit:
        assert figures["outcome"] == "decoded 224x224x3", figures
        assert figures["peak_mb"] < 1024, figures
    else:
        assert figures["outcome"].startswith("refused: "), figures
        message = "image too large: 12000 x 12000 pixels, over the limit of 89,478,485"
        assert f"{message} (KC_MAX_IMAGE_PIXELS)" in figures["outcome"], figures
        assert figures["peak_mb"] - figures["before_mb"] < 100, figures


def test_training_crops_of_exif_photos_are_upright():
    """The fused training crop decodes a window of the stored JPEG and turns it upright: in
    every crop red still grows to the right and green downwards, as in the upright picture."""
    picture = upright_picture(96, 128)
    recipe = get_recipe("resnet")
    for orientation in (3, 6, 7):
        data = tf.constant(oriented_jpeg(picture, orientation))
        for seed in range(3):
            crop = random_scale_crop(data, tf.constant([seed, 1]), recipe, 32, encoded=True)
            crop = crop.numpy()
            assert np.diff(crop[..., 0], axis=1).mean() > 0.5, (orientation, seed)
            assert np.diff(crop[..., 1], axis=0).mean() > 0.5, (orientation, seed)
