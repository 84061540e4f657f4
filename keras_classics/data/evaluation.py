"""Evaluation preprocessing (resize the shorter side, centre crop) and multi-crop testing.

The one definition of "the evaluation pipeline": the data pipelines, the exported image-bytes
signature and the benchmarks all call these functions, so a served model sees exactly the
pixels the evaluation saw.
"""

from __future__ import annotations

import tensorflow as tf

from keras_classics.data.decode import decode_image
from keras_classics.normalization import Normalization, PreprocessingRecord, get_normalization

# The ImageNet convention (AlexNet 2, VGG 3.2, ResNet 3.4): resize the shorter side to 256 and
# crop 224 from the centre, i.e. the crop covers 224/256 = 87.5% of the shorter side.
CROP_FRACTION = 224 / 256


def eval_resize_size(image_size: int, crop_fraction: float = CROP_FRACTION) -> int:
    """The shorter side to resize to before a centre `image_size` crop (224 -> 256)."""
    return round(image_size / crop_fraction)


def resize_shorter_side(
    image: tf.Tensor, size: int | tf.Tensor, interpolation: str = "bilinear"
) -> tf.Tensor:
    """Resizes [H, W, C] so that its shorter side is `size`, keeping the aspect ratio.

    `interpolation` ("bilinear" or "bicubic") with antialiasing (as PIL and torchvision's
    Resize), float32 output on the input's scale.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    # The longer side is truncated, as torchvision's Resize (int(size * long / short)): a
    # rounded side shifts the centre crop by a pixel against torchvision's own evaluation.
    new_shape = tf.cast(tf.floor(shape * scale + 1e-4), tf.int32)
    new_shape = tf.maximum(new_shape, tf.cast(size, tf.int32))
    return tf.image.resize(image, new_shape, method=interpolation, antialias=True)


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """The central `size` x `size` window of [H, W, C] (H, W >= size).

    An odd margin is split as torchvision's CenterCrop does: round((H - size) / 2), halves to
    even (Python's and TensorFlow's rounding).
    """
    margins = tf.cast(tf.shape(image)[:2] - size, tf.float32) / 2.0
    top, left = tf.unstack(tf.cast(tf.round(margins), tf.int32))
    return image[top : top + size, left : left + size, :]


def preprocess_for_eval(
    image: tf.Tensor,
    *,
    image_size: int = 224,
    resize_size: int | None = None,
    normalization: str | Normalization = "mean",
    interpolation: str = "bilinear",
) -> tf.Tensor:
    """uint8 (or float 0-255) RGB [H, W, 3] -> normalised float32 [image_size, image_size, 3].

    Resize the shorter side to `resize_size` (default `eval_resize_size(image_size)`: 256 for
    224) with `interpolation`, crop the centre `image_size` square, normalise. Pass
    `resize_size=image_size` to test on the whole image (CIFAR, ResNet 4.2: "test on the
    original 32x32 image").
    """
    resize_size = eval_resize_size(image_size) if resize_size is None else resize_size
    if resize_size < image_size:
        raise ValueError(f"resize_size {resize_size} must be at least image_size {image_size}")
    # uint8 goes into the resize as it is (its kernel reads any dtype, writes float32): a cast
    # first would hold a float32 copy of the whole decoded image, 4x its bytes.
    image = resize_shorter_side(image, resize_size, interpolation)
    image = center_crop(image, image_size)
    image.set_shape([image_size, image_size, 3])
    return get_normalization(normalization).apply(image)


def preprocess_with_record(image: tf.Tensor, record: PreprocessingRecord) -> tf.Tensor:
    """`preprocess_for_eval` as a preprocessing record (a preset's, a run's) says."""
    return preprocess_for_eval(
        image,
        image_size=record.image_size,
        resize_size=record.resize_size,
        normalization=record.normalization,
        interpolation=record.interpolation,
    )


def preprocess_encoded(encoded: tf.Tensor, record: PreprocessingRecord) -> tf.Tensor:
    """Encoded image bytes -> the model's input, exactly as the exported bytes signature does.

    The decode is part of the view: a JPEG of at least 4x the record's resize size is decoded
    at 1/2, 1/4 or 1/8 scale (`decode_image`'s `min_side`) and its EXIF orientation applied, so
    a consumer that decodes at full size sees slightly different pixels (about 1e-2 in
    probability on an ordinary photograph).
    """
    return preprocess_with_record(decode_image(encoded, min_side=record.resize_size), record)


def ten_crops(
    image: tf.Tensor,
    *,
    image_size: int = 224,
    resize_size: int | None = None,
    normalization: str | Normalization = "mean",
) -> tf.Tensor:
    """AlexNet 4.1 test views: 4 corners + centre of the resized image, and their flips.

    Returns normalised float32 [10, image_size, image_size, 3]: the five crops (top-left,
    top-right, bottom-left, bottom-right, centre), then the same five mirrored.
    """
    resize_size = eval_resize_size(image_size) if resize_size is None else resize_size
    image = resize_shorter_side(tf.cast(image, tf.float32), resize_size)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    corners = [(0, 0), (0, width - image_size), (height - image_size, 0)]
    corners += [(height - image_size, width - image_size)]
    crops = [image[y : y + image_size, x : x + image_size, :] for y, x in corners]
    crops.append(center_crop(image, image_size))
    crops = tf.stack(crops)
    crops = tf.concat([crops, tf.image.flip_left_right(crops)], axis=0)
    crops.set_shape([10, image_size, image_size, 3])
    return get_normalization(normalization).apply(crops)


def _image_dataset(images) -> tf.data.Dataset:
    """Decoded images (a list of arrays of any sizes, or a dataset of images or pairs)."""
    if isinstance(images, tf.data.Dataset):
        if isinstance(images.element_spec, tuple):
            images = images.map(lambda image, *_: image)
        return images
    return tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    )


def predict_ten_crop(
    model,
    images,
    *,
    image_size: int = 224,
    resize_size: int | None = None,
    normalization: str | Normalization = "mean",
    batch_size: int = 8,
):
    """The model's outputs averaged over the 10 views of `ten_crops`: NumPy [N, classes].

    `images`: uint8 RGB images of any sizes (a sequence of arrays, or a tf.data.Dataset of
    images or of (image, label) pairs, unbatched). With a softmax model this is the papers'
    "averaging the predictions made by the softmax layer on the ten patches".
    """
    import numpy as np

    views = _image_dataset(images).map(
        lambda image: ten_crops(
            image, image_size=image_size, resize_size=resize_size, normalization=normalization
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    outputs = []
    for batch in views.batch(batch_size).prefetch(tf.data.AUTOTUNE):
        flat = tf.reshape(batch, [-1, image_size, image_size, 3])
        predictions = np.asarray(model.predict_on_batch(flat))
        outputs.append(predictions.reshape(-1, 10, predictions.shape[-1]).mean(axis=1))
    return np.concatenate(outputs)


def predict_multi_scale(
    model,
    images,
    *,
    scales: tuple[int, ...] = (256, 384, 512),
    flip: bool = True,
    normalization: str | Normalization = "mean",
):
    """VGG 3.2 multi-scale dense evaluation: outputs averaged over test scales Q (and flips).

    Each image is resized so its shorter side is Q and given WHOLE to `model`, which must take
    any input size and return [1, classes] (e.g. `keras_classics.to_dense_evaluation(vgg)`,
    which averages its class score map). Returns NumPy [N, classes]. One scale = single-scale
    dense evaluation.
    """
    import numpy as np

    normalize = get_normalization(normalization).apply
    results = []
    for image in _image_dataset(images):
        views = []
        for scale in scales:
            resized = normalize(resize_shorter_side(tf.cast(image, tf.float32), scale))[None]
            views.append(np.asarray(model.predict_on_batch(resized)))
            if flip:
                views.append(np.asarray(model.predict_on_batch(resized[:, :, ::-1, :])))
        results.append(np.mean(views, axis=0)[0])
    return np.stack(results)
