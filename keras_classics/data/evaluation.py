"""Evaluation preprocessing (resize the shorter side, centre crop) and multi-crop testing.

The one definition of "the evaluation pipeline": the data pipelines, the exported image-bytes
signature and the benchmarks all call these functions, so a served model sees exactly the
pixels the evaluation saw.
"""

from __future__ import annotations

import tensorflow as tf

from keras_classics.normalization import Normalization, get_normalization

# The ImageNet convention (AlexNet 2, VGG 3.2, ResNet 3.4): resize the shorter side to 256 and
# crop 224 from the centre, i.e. the crop covers 224/256 = 87.5% of the shorter side.
CROP_FRACTION = 224 / 256


def eval_resize_size(image_size: int, crop_fraction: float = CROP_FRACTION) -> int:
    """The shorter side to resize to before a centre `image_size` crop (224 -> 256)."""
    return round(image_size / crop_fraction)


def decode_image(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes -> uint8 RGB [H, W, 3].

    Grayscale is replicated to RGB and alpha is dropped (`channels=3`); an animated GIF gives
    its first frame. Undecodable bytes raise `tf.errors.InvalidArgumentError`.
    """
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def resize_shorter_side(image: tf.Tensor, size: int | tf.Tensor) -> tf.Tensor:
    """Resizes [H, W, C] so that its shorter side is `size`, keeping the aspect ratio.

    Bilinear with antialiasing (as PIL and torchvision's Resize), float32 output on the input's
    scale.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, tf.cast(size, tf.int32))
    return tf.image.resize(image, new_shape, method="bilinear", antialias=True)


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """The central `size` x `size` window of [H, W, C] (H, W >= size)."""
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top : top + size, left : left + size, :]


def preprocess_for_eval(
    image: tf.Tensor,
    *,
    image_size: int = 224,
    resize_size: int | None = None,
    normalization: str | Normalization = "mean",
) -> tf.Tensor:
    """uint8 (or float 0-255) RGB [H, W, 3] -> normalised float32 [image_size, image_size, 3].

    Resize the shorter side to `resize_size` (default `eval_resize_size(image_size)`: 256 for
    224), crop the centre `image_size` square, normalise. Pass `resize_size=image_size` to test
    on the whole image (CIFAR, ResNet 4.2: "test on the original 32x32 image").
    """
    resize_size = eval_resize_size(image_size) if resize_size is None else resize_size
    if resize_size < image_size:
        raise ValueError(f"resize_size {resize_size} must be at least image_size {image_size}")
    image = tf.cast(image, tf.float32)
    image = resize_shorter_side(image, resize_size)
    image = center_crop(image, image_size)
    image.set_shape([image_size, image_size, 3])
    return get_normalization(normalization).apply(image)
