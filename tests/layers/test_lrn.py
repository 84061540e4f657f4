"""LocalResponseNormalization against the paper's formula, TensorFlow's op and float16."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_classics.layers import LocalResponseNormalization
from tests.helpers import assert_safe_mode_round_trip


def paper_lrn(a: np.ndarray, n: int, k: float, alpha: float, beta: float) -> np.ndarray:
    """Paper formula, float64, channels last: j runs over [max(0, i - n/2), min(N-1, i + n/2)]."""
    a = a.astype("float64")
    channels = a.shape[-1]
    out = np.empty_like(a)
    for i in range(channels):
        low, high = max(0, i - n // 2), min(channels - 1, i + n // 2)
        energy = (a[..., low : high + 1] ** 2).sum(axis=-1)
        out[..., i] = a[..., i] / (k + alpha * energy) ** beta
    return out


@pytest.mark.parametrize("depth_radius", [0, 1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_matches_the_formula(rng, depth_radius, data_format):
    # Activations of about 100 make the alpha term matter (alpha * 5 * 1e4 = 5 > k).
    a = rng.normal(0, 100, (2, 5, 4, 7)).astype("float32")  # 7 channels: both edges clipped
    expected = paper_lrn(a, 2 * depth_radius + 1, k=2.0, alpha=1e-4, beta=0.75)
    layer = LocalResponseNormalization(depth_radius, data_format=data_format)
    if data_format == "channels_first":
        got = np.asarray(layer(a.transpose(0, 3, 1, 2))).transpose(0, 2, 3, 1)
    else:
        got = np.asarray(layer(a))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)
    assert np.abs(got - a).max() > 1.0  # the normalisation really changes the activations


def test_other_constants(rng):
    a = rng.normal(0, 10, (1, 3, 3, 16)).astype("float32")
    layer = LocalResponseNormalization(depth_radius=4, bias=1.0, alpha=2e-3, beta=0.5)
    expected = paper_lrn(a, 9, k=1.0, alpha=2e-3, beta=0.5)
    np.testing.assert_allclose(np.asarray(layer(a)), expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("depth_radius", [1, 2, 5])
def test_equals_tensorflow(rng, depth_radius):
    import tensorflow as tf

    a = rng.normal(0, 100, (2, 6, 6, 32)).astype("float32")
    expected = tf.nn.local_response_normalization(
        a, depth_radius=depth_radius, bias=2.0, alpha=1e-4, beta=0.75
    ).numpy()
    got = np.asarray(LocalResponseNormalization(depth_radius)(a))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def pytorch_lrn(a: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """torch.nn.functional.local_response_norm as PyTorch documents it, float64, channels last:
    b_c = a_c / (k + alpha / n * sum over the zero-padded window of size n of a^2)^beta."""
    a = a.astype("float64")
    padded = np.pad(a**2, [(0, 0)] * 3 + [(size // 2, (size - 1) // 2)])
    mean = np.stack(
        [padded[..., c : c + size].mean(axis=-1) for c in range(a.shape[-1])], axis=-1
    )  # the window sum divided by n
    return a / (k + alpha * mean) ** beta


@pytest.mark.parametrize(("size", "torch_alpha", "k"), [(5, 5e-4, 2.0), (3, 1e-3, 1.0)])
def test_reproduces_pytorch_with_alpha_over_n(rng, size, torch_alpha, k):
    a = rng.normal(0, 100, (1, 2, 2, 9)).astype("float32")
    expected = pytorch_lrn(a, size, torch_alpha, 0.75, k)
    layer = LocalResponseNormalization((size - 1) // 2, bias=k, alpha=torch_alpha / size)
    np.testing.assert_allclose(np.asarray(layer(a)), expected, rtol=2e-6, atol=1e-6)
    # and PyTorch's alpha used without dividing by n is a different layer
    wrong = LocalResponseNormalization((size - 1) // 2, bias=k, alpha=torch_alpha)
    assert np.abs(np.asarray(wrong(a)) - expected).max() > 1e-3


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_with_large_activations(rng, dtype):
    # Squares of thousands overflow float16 (max 65504); the layer accumulates in float32.
    a = rng.uniform(-4000, 4000, (2, 4, 4, 16)).astype("float32")
    low = keras.ops.cast(a, dtype)
    out = LocalResponseNormalization(dtype=f"mixed_{dtype}")(low)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    out = np.asarray(keras.ops.cast(out, "float32"))
    assert np.isfinite(out).all()
    expected = paper_lrn(np.asarray(keras.ops.cast(low, "float32")), 5, 2.0, 1e-4, 0.75)
    eps = {"float16": 2**-10, "bfloat16": 2**-7}[dtype]  # one unit in the last place
    np.testing.assert_allclose(out, expected, rtol=eps, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth_radius": -1}, "depth_radius"),
        ({"depth_radius": 2.5}, "depth_radius"),
        ({"bias": 0.0}, "bias must be > 0"),
        ({"alpha": -1e-4}, "alpha >= 0"),
        ({"data_format": "NCHW"}, "channels_first"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)


def test_saves_and_loads_in_safe_mode(tmp_path, rng):
    inputs = keras.Input((4, 4, 8))
    layer = LocalResponseNormalization(3, bias=1.5, alpha=3e-4, beta=0.6, name="lrn")
    model = keras.Model(inputs, layer(inputs))
    a = rng.normal(0, 100, (2, 4, 4, 8)).astype("float32")
    loaded = assert_safe_mode_round_trip(model, a, tmp_path)
    assert loaded.get_layer("lrn").get_config() == layer.get_config()
