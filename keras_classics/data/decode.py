"""The one place encoded images are decoded: pixel limit, JPEG scaled decoding, EXIF orientation.

`header_shape` reads (height, width) from the header alone (JPEG: `extract_jpeg_shape`; PNG,
GIF, BMP: the fixed header fields), so `decode_image` refuses a decompression bomb (a few MB
of JPEG that decodes to gigabytes) before allocating its pixels. The limit is PIL's
`Image.MAX_IMAGE_PIXELS` (89,478,485: 1024 x 1024 x 1024 // 4 // 3), changeable per call or
for the process through `KC_MAX_IMAGE_PIXELS`.

Under the limit, a JPEG much larger than its caller needs is decoded by libjpeg at 1/2, 1/4 or
1/8 scale (`min_side`), so a 12000 x 12000 photograph served at 224 never exists at full size;
and a JPEG's EXIF Orientation tag is applied, so a portrait phone photo comes out upright. All
of it is TensorFlow ops (no `py_function`): it runs eagerly, in tf.data maps and inside an
exported SavedModel. Data pipelines, evaluation, `from_folder` and the exported bytes signature
all decode through here.
"""

from __future__ import annotations

import os

import tensorflow as tf

MAX_IMAGE_PIXELS = int(os.environ.get("KC_MAX_IMAGE_PIXELS") or 89_478_485)
_HEAD = 32  # bytes of header read: enough for PNG, GIF and BMP dimensions
# A JPEG is decoded at 1/ratio scale when its shorter side stays >= DOWNSCALE_MARGIN x the
# caller's `min_side`: the antialiased resize that follows still downscales >= 4x, so the DCT
# scaling's box-like filter barely shows (at 4x the output differs from a full decode's less
# than TensorFlow's differs from PIL's; at 2x twice as much: docs/reliability.md).
JPEG_RATIOS = (1, 2, 4, 8)  # the scales libjpeg decodes at (`tf.io.decode_jpeg`'s `ratio`)
DOWNSCALE_MARGIN = 4
_EXIF_SPAN = 65536  # an APP1 segment's maximum size: EXIF's IFD0 lies within it
_APP1 = b"\xff\xe1"  # the APP1 marker, a 2-byte length, "Exif\0\0", then a TIFF header
_EXIF_ID = b"Exif\0\0"
_ORIENTATION_TAG = 0x0112
_MAX_IFD_ENTRIES = 256

# format -> (magic prefix, height offset, width offset, field size, big-endian)
_HEADERS = {
    "png": (b"\x89PNG\r\n\x1a\n", 20, 16, 4, True),
    "gif": (b"GIF8", 8, 6, 2, False),
    "bmp": (b"BM", 22, 18, 4, False),
}


def _field(head: tf.Tensor, offset: int, size: int, big_endian: bool) -> tf.Tensor:
    """An unsigned integer of `size` bytes at `offset` in the uint8 header `head`."""
    digits = tf.cast(head[offset : offset + size], tf.int64)
    if not big_endian:
        digits = tf.reverse(digits, [0])
    value = tf.constant(0, tf.int64)
    for index in range(size):
        value = value * 256 + digits[index]
    if size == 4 and not big_endian:  # BMP: a signed height (negative: stored top-down)
        value = tf.where(value >= 1 << 31, (1 << 32) - value, value)
    return value


def header_shape(encoded: tf.Tensor) -> tf.Tensor:
    """(height, width) int64 from the header of encoded JPEG/PNG/GIF/BMP bytes; (0, 0) for
    other formats (the decoder then names the format it cannot read)."""
    padded = tf.strings.join([tf.strings.substr(encoded, 0, _HEAD), b"\0" * _HEAD])
    head = tf.io.decode_raw(tf.strings.substr(padded, 0, _HEAD), tf.uint8)
    shape = tf.zeros([2], tf.int64)
    for magic, height, width, size, big in _HEADERS.values():
        found = tf.equal(tf.strings.substr(encoded, 0, len(magic)), magic)
        dims = tf.stack([_field(head, height, size, big), _field(head, width, size, big)])
        shape = tf.where(found, dims, shape)
    jpeg = tf.io.is_jpeg(encoded)
    return tf.cond(
        jpeg,
        lambda: tf.cast(tf.image.extract_jpeg_shape(encoded)[:2], tf.int64),
        lambda: shape,
    )


def check_pixels(encoded: tf.Tensor, max_pixels: int | None = None) -> tf.Tensor:
    """The header's (height, width); InvalidArgumentError naming both when over the limit."""
    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    shape = header_shape(encoded)
    message = tf.strings.format(
        "image too large: {} x {} pixels, over the limit of " + f"{limit:,} (KC_MAX_IMAGE_PIXELS)",
        (shape[0], shape[1]),
    )
    with tf.control_dependencies([tf.debugging.Assert(shape[0] * shape[1] <= limit, [message])]):
        return tf.identity(shape)


def _unsigned(head: tf.Tensor, offset: tf.Tensor, size: int, little: tf.Tensor) -> tf.Tensor:
    """Unsigned integers of `size` bytes at int64 `offset` (any shape) in uint8 `head`, in
    either byte order; offsets outside `head` read zeros."""
    positions = offset[..., None] + tf.range(size, dtype=tf.int64)
    inside = (positions >= 0) & (positions < tf.size(head, tf.int64))
    digits = tf.where(inside, tf.cast(tf.gather(head, tf.where(inside, positions, 0)), tf.int64), 0)
    weights = tf.constant([256**k for k in range(size)], tf.int64)
    return tf.reduce_sum(digits * tf.where(little, weights, tf.reverse(weights, [0])), -1)


def _exif_tiff_start(encoded: tf.Tensor) -> tf.Tensor:
    """int64 position of the TIFF header of a JPEG's APP1 "Exif" segment (the first
    "Exif\\0\\0" in the first 64 KB, right after an APP1 marker and length), -1 when none.

    One string split: a file without EXIF costs a scan of its first 64 KB and nothing more.
    """
    head = tf.strings.substr(encoded, 0, _EXIF_SPAN)
    parts = tf.strings.split(head, sep=_EXIF_ID, maxsplit=1)
    before = tf.strings.length(parts[0])
    marker = tf.strings.substr(head, tf.maximum(before - 4, 0), 2)  # FF E1, then the length
    found = (tf.size(parts) > 1) & (before >= 4) & tf.equal(marker, _APP1)
    return tf.cast(tf.where(found, before + len(_EXIF_ID), -1), tf.int64)


def _ifd0_orientation(tiff: tf.Tensor) -> tf.Tensor:
    """The Orientation in the IFD0 of TIFF bytes `tiff` (first `_EXIF_SPAN`); 1 if malformed."""
    head = tf.io.decode_raw(
        tf.strings.substr(tiff, 0, _EXIF_SPAN), tf.uint8, fixed_length=_EXIF_SPAN
    )
    zero = tf.constant(0, tf.int64)
    little = tf.equal(_unsigned(head, zero, 2, True), 0x4949)  # "II"
    big = tf.equal(_unsigned(head, zero, 2, True), 0x4D4D)  # "MM"
    valid = (little | big) & (_unsigned(head, zero + 2, 2, little) == 42)
    ifd = _unsigned(head, zero + 4, 4, little)
    count = tf.minimum(_unsigned(head, ifd, 2, little), _MAX_IFD_ENTRIES)
    entries = ifd + 2 + 12 * tf.range(count)
    tagged = (_unsigned(head, entries, 2, little) == _ORIENTATION_TAG) & (
        _unsigned(head, entries + 2, 2, little) == 3  # type SHORT
    )
    values = tf.boolean_mask(_unsigned(head, entries + 8, 2, little), tagged)
    value = tf.concat([values, [1]], 0)[0]
    valid &= (value >= 1) & (value <= 8) & (ifd + 2 <= _EXIF_SPAN)
    return tf.cast(tf.where(valid, value, 1), tf.int32)


def exif_orientation(encoded: tf.Tensor) -> tf.Tensor:
    """The EXIF Orientation (int32 1-8) of JPEG bytes; 1 when there is no APP1 "Exif"
    segment in the first 64 KB, no Orientation tag in IFD0, or anything malformed (never an
    error).

    Reads the TIFF header's byte order ("II" little-endian or "MM" big-endian), IFD0's offset
    and entry count, and the SHORT value of tag 0x0112, within 64 KB of the TIFF header (an
    APP1 segment's maximum size).
    """
    tiff = _exif_tiff_start(encoded)
    return tf.cond(
        tiff >= 0,
        lambda: _ifd0_orientation(tf.strings.substr(encoded, tf.maximum(tiff, 0), _EXIF_SPAN)),
        lambda: tf.constant(1, tf.int32),
    )


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """[H, W, C] as stored -> upright, for an EXIF orientation 1-8, as PIL's
    `ImageOps.exif_transpose`: 5-8 swap the axes (5 transpose, 6 rotate 90 clockwise,
    7 transverse, 8 rotate 90 counter-clockwise), then rows and/or columns are reversed
    (2 flip left-right, 3 rotate 180, 4 flip top-bottom). Plain ops with tensor arguments (a
    permutation, the axes to reverse): no control flow."""
    swap = orientation >= 5
    image = tf.transpose(image, tf.where(swap, [1, 0, 2], [0, 1, 2]))
    reverse_rows = tf.reduce_any(tf.equal(orientation, [3, 4, 7, 8]))
    reverse_columns = tf.reduce_any(tf.equal(orientation, [2, 3, 6, 7]))
    image = tf.reverse(image, tf.boolean_mask([0, 1], tf.stack([reverse_rows, reverse_columns])))
    image.set_shape([None, None, image.shape[-1]])
    return image


def jpeg_ratio(shape: tf.Tensor, min_side: int | tf.Tensor) -> tf.Tensor:
    """The largest of `JPEG_RATIOS` (int32) keeping the shorter side of (height, width) `shape`
    at least `DOWNSCALE_MARGIN` x `min_side`; 1 when none does."""
    shorter = tf.reduce_min(tf.cast(shape, tf.int64))
    wanted = DOWNSCALE_MARGIN * tf.cast(min_side, tf.int64)
    ratio = tf.constant(1, tf.int32)
    for candidate in JPEG_RATIOS[1:]:
        ratio = tf.where(shorter // candidate >= wanted, candidate, ratio)
    return ratio


def _decode_jpeg(encoded: tf.Tensor, ratio: tf.Tensor) -> tf.Tensor:
    """JPEG bytes decoded at 1/`ratio` scale (`ratio` is an attribute: one branch each)."""
    branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r) for r in JPEG_RATIOS]
    index = tf.argmax(tf.equal(tf.constant(JPEG_RATIOS), ratio), output_type=tf.int32)
    return tf.switch_case(index, branches)


def decode_jpeg_square(encoded: tf.Tensor, top, left, side) -> tf.Tensor:
    """The `side` x `side` window at (top, left) of JPEG bytes, in the stored image's pixels,
    turned upright (only the window is decoded). A window placed uniformly in the stored image
    is placed uniformly in the upright one: training crops sample it from the header's size."""
    window = tf.image.decode_and_crop_jpeg(encoded, tf.stack([top, left, side, side]), channels=3)
    return apply_orientation(window, exif_orientation(encoded))


def decode_image(
    encoded: tf.Tensor, max_pixels: int | None = None, min_side: int | tf.Tensor | None = None
) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes -> uint8 RGB [H, W, 3], upright, refused over `max_pixels`.

    Grayscale is replicated to RGB and alpha is dropped (`channels=3`); an animated GIF gives
    its first frame; a JPEG's EXIF orientation is applied. `min_side`: the shorter side the
    caller will resize to; a JPEG larger than `DOWNSCALE_MARGIN` x that is decoded at 1/2, 1/4
    or 1/8 scale (None: full size). Undecodable or oversized bytes raise
    `tf.errors.InvalidArgumentError`.
    """
    shape = check_pixels(encoded, max_pixels)

    def jpeg() -> tf.Tensor:
        if min_side is None:
            stored = tf.io.decode_jpeg(encoded, channels=3)
        else:
            stored = _decode_jpeg(encoded, jpeg_ratio(shape, min_side))
        return apply_orientation(stored, exif_orientation(encoded))

    with tf.control_dependencies([shape]):
        image = tf.cond(
            tf.io.is_jpeg(encoded),
            jpeg,
            lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False),
        )
    image.set_shape([None, None, 3])
    return image
