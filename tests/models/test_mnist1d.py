"""The 1D family: the MNIST-1D paper's baselines and the CIFAR ResNet in one dimension."""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.models.resnet import zero_padding_shortcut
from tests.helpers import assert_safe_mode_round_trip, perturb_weights

ONE_D = kc.list_models("mnist1d")


def resnet1d_parameters(depth: int, shortcut: str, plain: bool = False) -> int:
    """Parameters of the 1D CIFAR ResNet counted from the paper's description, independently
    of the builder: 3-wide bias-free convolutions, BN (4 numbers per channel), 64 x 10 FC."""
    n = (depth - 2) // 6
    weights, bn_channels, previous = 3 * 1 * 16, 16, 16
    for width in (16, 32, 64):
        for _ in range(n):
            weights += 3 * previous * width + 3 * width * width
            bn_channels += 2 * width
            if not plain and (shortcut == "C" or (shortcut == "B" and previous != width)):
                weights += previous * width
                bn_channels += width
            previous = width
    return weights + 4 * bn_channels + 64 * 10 + 10


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        # The MNIST-1D repository's PyTorch models: Linear(40, 10); Linear(40, 100),
        # Linear(100, 100), Linear(100, 10); Conv1d 1->25 k5, 25->25 k3 x2, Linear(125, 10).
        (kc.MNIST1DLogistic, 410),
        (kc.MNIST1DMLP, 15_210),
        (kc.MNIST1DCNN, 5_210),
        (kc.ResNet20_1D, resnet1d_parameters(20, "A")),
        (partial(kc.ResNet1D, 8, shortcut="B"), resnet1d_parameters(8, "B")),
        (partial(kc.ResNet1D, 14, shortcut="C"), resnet1d_parameters(14, "C")),
        (partial(kc.ResNet1D, 8, plain=True), resnet1d_parameters(8, "A", plain=True)),
    ],
)
def test_parameter_counts_match_the_references(builder, expected):
    assert builder().count_params() == expected


def test_the_papers_cnn_and_mlp_compute_what_its_models_py_computes(rng):
    cnn = kc.MNIST1DCNN()  # PyTorch Conv1d(k5, s2, p1), (k3, s2, p1) x2 on 40 points
    assert [cnn.get_layer(f"conv{i}_conv").output.shape[1:] for i in (1, 2, 3)] == [
        (19, 25),
        (10, 25),
        (5, 25),
    ]
    mlp = kc.MNIST1DMLP(include_top=False)  # h = relu(fc1 x); h + relu(fc2 h)
    fc1, fc2 = mlp.get_layer("fc1"), mlp.get_layer("fc2")
    fc2.set_weights([np.zeros_like(w) for w in fc2.get_weights()])
    x = rng.normal(size=(4, 40)).astype("float32")
    kernel, bias = fc1.get_weights()
    np.testing.assert_allclose(
        np.asarray(mlp(x)), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6
    )


# Every registered net builds and runs in tests/test_registry.py; the 20- and 56-layer nets
# train in the quick reproduction (tests/scripts/test_reproduce.py). Here the short ones.
BACKWARD = {
    **{name: partial(kc.get_model, name) for name in ("logistic_1d", "mlp_1d", "cnn_1d")},
    "resnet8_1d": partial(kc.ResNet1D, 8),
    "plain8_1d": partial(kc.ResNet1D, 8, plain=True),
}


@pytest.mark.parametrize("name", list(BACKWARD))
def test_forward_and_backward(rng, name):
    model = BACKWARD[name]()
    x = rng.normal(size=(8, 40)).astype("float32")
    y = np.arange(8) % 10
    probabilities = np.asarray(model(x, training=False))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]  # gradients reach the loss


ROUND_TRIPS = {
    **{name: partial(kc.get_model, name) for name in ("logistic_1d", "mlp_1d", "cnn_1d")},
    "resnet20_1d-A": kc.ResNet20_1D,
    "resnet8_1d-B-channels": partial(
        kc.ResNet1D, 8, shortcut="B", input_shape=(None, 2), classes=4
    ),
    "resnet8_1d-C-zero-init": partial(kc.ResNet1D, 8, shortcut="C", zero_init_residual=True),
    "plain8_1d": partial(kc.ResNet1D, 8, plain=True),
}


@pytest.mark.parametrize("variant", list(ROUND_TRIPS))
def test_safe_mode_round_trip(tmp_path, rng, variant):
    model = ROUND_TRIPS[variant]()
    perturb_weights(model, rng)
    shape = [40 if d is None else d for d in model.input_shape[1:]]
    x = rng.normal(size=(3, *shape)).astype("float32")
    loaded = assert_safe_mode_round_trip(model, x, tmp_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize(
    ("shortcut", "plain"), [("A", False), ("B", False), ("C", False), ("A", True)]
)
def test_layer_names_are_the_2d_resnets(shortcut, plain):
    """The 1D net has the 2D CIFAR ResNet's layer names, plus only the reshapes 1D needs."""
    one_d = {layer.name for layer in kc.ResNet1D(14, shortcut=shortcut, plain=plain).layers}
    two_d = {layer.name for layer in kc.ResNetCIFAR(14, shortcut=shortcut, plain=plain).layers}
    reshapes = {n for n in one_d if n == "expand" or n.endswith(("_0_expand", "_0_squeeze"))}
    assert {n for n in one_d - reshapes if not n.startswith("input")} == {
        n for n in two_d if not n.startswith("input")
    }
    assert ("conv3_block1_0_pad" in one_d) == (shortcut == "A" and not plain)
    assert ("conv3_block1_add" in one_d) == (not plain)


def test_option_a_subsamples_and_pads_channels_with_zeros(rng):
    signal = keras.Input((6, 2))
    model = keras.Model(signal, zero_padding_shortcut(signal, 4, 2, "block", rank=1))
    x = rng.normal(size=(2, 6, 2)).astype("float32")
    expected = np.concatenate([x[:, ::2], np.zeros((2, 3, 2), "float32")], axis=-1)
    np.testing.assert_array_equal(np.asarray(model(x)), expected)
    assert model.count_params() == 0


def test_global_pooling_nets_take_any_length_and_ignore_the_image_format(rng):
    x = rng.normal(size=(2, 40)).astype("float32")
    reference = kc.MNIST1DCNN()
    keras.config.set_image_data_format("channels_first")  # images only; signals stay [N, L, C]
    cnn = kc.MNIST1DCNN()
    cnn.set_weights(reference.get_weights())
    np.testing.assert_allclose(np.asarray(cnn(x)), np.asarray(reference(x)), rtol=1e-6)
    model = kc.ResNet1D(8, input_shape=(None,))
    for length in (64, 37):  # even and odd lengths: shortcut and strided branch agree
        assert np.asarray(model(rng.normal(size=(2, length)), training=True)).shape == (2, 10)
    features = kc.MNIST1DCNN(include_top=False, pooling="max")
    assert features.output_shape == (None, 25) and features.get_layer("max_pool")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (partial(kc.MNIST1DCNN, input_shape=(None,)), r"suit cnn_1d: the length must be an int"),
        (partial(kc.ResNet20_1D, input_shape=(40, 40, 3)), r"\(length,\) or \(length, channels\)"),
        (partial(kc.ResNet20_1D, input_shape=(3,), name="r"), r"suit resnet20_1d: .* at least 4"),
        (partial(kc.MNIST1DMLP, weights="imagenet"), r"weights='imagenet' does not exist"),
        (partial(kc.ResNet1D, 21), r"6n \+ 2"),
        (partial(kc.ResNet1D, 20, shortcut="D"), r"shortcut='D'.*\['A', 'B', 'C'\]"),
        (partial(kc.ResNet1D, 20, plain=True, zero_init_residual=True), r"needs residual blocks"),
    ],
)
def test_bad_arguments_are_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()
