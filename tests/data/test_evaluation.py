"""Evaluation views: centre crop geometry, ten crops, multi-scale averaging."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_classics.data import (
    predict_multi_scale,
    predict_ten_crop,
    preprocess_for_eval,
    ten_crops,
)
from keras_classics.data.evaluation import decode_image, eval_resize_size
from keras_classics.normalization import get_normalization


def _column_ramp(height: int, width: int) -> tf.Tensor:
    """Pixel value = column index: where a crop came from is readable from its values."""
    ramp = tf.tile(tf.range(width, dtype=tf.float32)[None, :, None], [height, 1, 3])
    return ramp


def test_centre_crop_of_the_resized_shorter_side():
    assert eval_resize_size(224) == 256 and eval_resize_size(32) == 37
    out = preprocess_for_eval(_column_ramp(300, 400), normalization="none").numpy()
    assert out.shape == (224, 224, 3)
    # shorter side 300 -> 256: width 400 -> 341, centre 224 columns start at (341 - 224) // 2
    scale = 341 / 400
    left = (341 - 224) // 2
    expected = (left + np.arange(224) + 0.5) / scale - 0.5  # source column of each output
    np.testing.assert_allclose(out[150, :, 0], expected, atol=1.0)


def test_ten_crops_are_four_corners_centre_and_their_mirrors():
    image = _column_ramp(256, 256)
    crops = ten_crops(image, image_size=224, resize_size=256, normalization="none").numpy()
    assert crops.shape == (10, 224, 224, 3)
    first_columns = crops[:5, 0, 0, 0]
    np.testing.assert_allclose(first_columns, [0, 32, 0, 32, 16], atol=0.5)
    np.testing.assert_array_equal(crops[5:], crops[:5, :, ::-1, :])
    np.testing.assert_allclose(crops[4], preprocess_for_eval(image, normalization="none"))


def _probe_model(activation=None) -> keras.Model:
    """A fully convolutional stand-in: 1x1 conv, global average, softmax; any input size."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 1)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Activation(activation or "softmax")(x))


def test_predict_ten_crop_averages_the_ten_views(rng):
    model = _probe_model()
    images = [rng.integers(0, 256, size).astype("uint8") for size in [(40, 50, 3), (61, 33, 3)]]
    got = predict_ten_crop(model, images, image_size=24, resize_size=32, batch_size=1)
    for image, row in zip(images, got, strict=True):
        views = ten_crops(image, image_size=24, resize_size=32)
        expected = np.asarray(model(views)).mean(axis=0)
        np.testing.assert_allclose(row, expected, rtol=1e-5)
        single = np.asarray(model(views[4:5]))[0]
        assert not np.allclose(row, single, rtol=1e-4)  # the average is not the centre view


def test_predict_multi_scale_averages_scales_and_flips(rng):
    model = _probe_model()
    encoded = tf.io.encode_png(rng.integers(0, 256, (30, 45, 3)).astype("uint8"))
    image = decode_image(encoded)
    dataset = tf.data.Dataset.from_tensors((image, 1))  # (image, label) pairs work too
    got = predict_multi_scale(model, dataset, scales=(20, 28), normalization="torch")
    views = []
    for scale in (20, 28):
        resized = tf.image.resize(
            tf.cast(image, tf.float32), [scale, round(45 * scale / 30)], antialias=True
        )
        x = get_normalization("torch").apply(resized)[None]
        views += [np.asarray(model(x)), np.asarray(model(x[:, :, ::-1]))]
    np.testing.assert_allclose(got, np.mean(views, axis=0), rtol=1e-5)
