"""Pieces of the signatures checked without exporting: `logits_and_outputs` (the served logits
are the model's own pre-softmax values, whichever way its head computes the softmax) and
`known_image_format` (the bytes check that names a bad image's index)."""

from __future__ import annotations

import io

import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from keras_classics.export.serving import known_image_format, logits_and_outputs


def head(kind: str) -> keras.Model:
    """A tiny classifier whose softmax is a Dense activation, an Activation layer, or absent."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    if kind == "dense_softmax":
        outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    else:
        x = keras.layers.Dense(5, name="predictions")(x)
        outputs = keras.layers.Activation("softmax" if kind == "activation" else "linear")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("kind", ["dense_softmax", "activation", "linear"])
def test_logits_are_the_pre_softmax_values(kind):
    model = head(kind)
    x = np.random.default_rng(0).normal(0, 3, (4, 6)).astype("float32")
    logits, outputs = logits_and_outputs(model)(tf.constant(x))
    np.testing.assert_allclose(outputs, model(x), rtol=0, atol=1e-6)
    features = keras.Model(model.inputs, model.get_layer("predictions").input)(x)
    dense = model.get_layer("predictions")
    expected = np.asarray(features) @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    if kind != "linear":
        np.testing.assert_allclose(tf.nn.softmax(logits), outputs, rtol=0, atol=1e-6)


def test_known_image_formats_are_every_format_decode_image_reads():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8)
    encoded = {fmt: encode(image, fmt) for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP")}
    for fmt, data in encoded.items():
        assert tf.io.decode_image(data, 3, expand_animations=False).shape == (5, 7, 3), fmt
    unknown = [b"", b"B", b"not an image", b"RIFF\0\0\0\0WAVE", b"\x89PN"]
    answer = known_image_format(tf.constant([*encoded.values(), *unknown])).numpy()
    assert answer.tolist() == [True] * len(encoded) + [False] * len(unknown)


def encode(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()
