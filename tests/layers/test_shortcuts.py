"""ZeroPaddingShortcut: option A of the ResNet paper, against a NumPy reference."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_classics.layers import ZeroPaddingShortcut
from tests.helpers import assert_safe_mode_round_trip


def reference(x: np.ndarray, filters: int, stride: int, position: str) -> np.ndarray:
    """NumPy option A, channels last: keep every stride-th pixel, then add zero channels."""
    sub = x[:, ::stride, ::stride, :]
    extra = filters - x.shape[-1]
    before = extra // 2 if position == "both" else 0
    zeros_before = np.zeros((*sub.shape[:3], before), x.dtype)
    zeros_after = np.zeros((*sub.shape[:3], extra - before), x.dtype)
    return np.concatenate([zeros_before, sub, zeros_after], axis=-1)


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("position", ["after", "both"])
def test_matches_reference_channels_last(rng, size, stride, position):
    x = rng.normal(size=(2, size, size, 16)).astype("float32")
    layer = ZeroPaddingShortcut(32, stride, channel_position=position)
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, reference(x, 32, stride, position))
    assert out.shape == layer.compute_output_shape(x.shape)
    assert out.shape[1] == -(-size // stride)  # ceil, like the padded strided convolution


def test_zeros_go_after_the_input_channels_by_default(rng):
    x = rng.uniform(1, 2, size=(1, 4, 4, 3)).astype("float32")
    out = np.asarray(ZeroPaddingShortcut(5)(x))
    np.testing.assert_array_equal(out[..., :3], x)
    assert not out[..., 3:].any()


@pytest.mark.parametrize("position", ["after", "both"])
def test_channels_first_equals_transposed_channels_last(rng, position):
    x = rng.normal(size=(2, 9, 9, 16)).astype("float32")
    expected = reference(x, 64, 2, position).transpose(0, 3, 1, 2)
    layer = ZeroPaddingShortcut(64, 2, channel_position=position, data_format="channels_first")
    out = np.asarray(layer(x.transpose(0, 3, 1, 2)))
    np.testing.assert_array_equal(out, expected)
    assert out.shape == layer.compute_output_shape((2, 16, 9, 9))


def test_has_no_weights_and_keeps_dtype():
    layer = ZeroPaddingShortcut(8, 2, dtype="mixed_float16")
    out = layer(np.ones((1, 4, 4, 4), "float16"))
    assert layer.weights == []
    assert keras.backend.standardize_dtype(out.dtype) == "float16"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 0}, "positive int"),
        ({"filters": 8, "strides": 0}, "strides"),
        ({"filters": 8, "strides": (2, 2, 2)}, "strides"),
        ({"filters": 8, "channel_position": "middle"}, "'after', 'both'"),
        ({"filters": 8, "data_format": "NHWC"}, "channels_last"),
    ],
)
def test_bad_arguments_name_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZeroPaddingShortcut(**kwargs)


def test_cannot_drop_channels():
    with pytest.raises(ValueError, match="cannot drop"):
        ZeroPaddingShortcut(8)(np.ones((1, 4, 4, 16), "float32"))


def test_config_round_trip():
    layer = ZeroPaddingShortcut(32, (2, 1), channel_position="both", name="sc")
    clone = ZeroPaddingShortcut.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_saved_model_loads_in_safe_mode(tmp_path, rng):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, ZeroPaddingShortcut(12, 2, channel_position="both")(inputs))
    x = rng.normal(size=(3, 8, 8, 4)).astype("float32")
    loaded = assert_safe_mode_round_trip(model, x, tmp_path)
    assert isinstance(loaded.layers[-1], ZeroPaddingShortcut)
