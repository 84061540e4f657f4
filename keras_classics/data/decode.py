"""The one place encoded images are decoded, with a pixel limit checked from the header first.

`header_shape` reads (height, width) from the header alone (JPEG: `extract_jpeg_shape`; PNG,
GIF, BMP: the fixed header fields), so `decode_image` refuses a decompression bomb (a few MB
of JPEG that decodes to gigabytes) before allocating its pixels. The limit is PIL's
`Image.MAX_IMAGE_PIXELS` (89,478,485: 1024 x 1024 x 1024 // 4 // 3), changeable per call or
for the process through `KC_MAX_IMAGE_PIXELS`. Data pipelines, evaluation, `from_folder` and
the exported bytes signature all decode through here.
"""

from __future__ import annotations

import os

import tensorflow as tf

MAX_IMAGE_PIXELS = int(os.environ.get("KC_MAX_IMAGE_PIXELS") or 89_478_485)
_HEAD = 32  # bytes of header read: enough for PNG, GIF and BMP dimensions

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


def decode_image(encoded: tf.Tensor, max_pixels: int | None = None) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes -> uint8 RGB [H, W, 3], refused over `max_pixels`.

    Grayscale is replicated to RGB and alpha is dropped (`channels=3`); an animated GIF gives
    its first frame. Undecodable or oversized bytes raise `tf.errors.InvalidArgumentError`.
    """
    with tf.control_dependencies([check_pixels(encoded, max_pixels)]):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image
