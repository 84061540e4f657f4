"""`logits_and_outputs`: the served logits are the model's own pre-softmax values, whichever way
its head computes the softmax."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export.serving import logits_and_outputs


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
