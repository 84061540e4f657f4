"""VGG builders against the paper, torchvision counts and keras.applications."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.layers import LocalResponseNormalization
from tests.helpers import assert_close_to_scale, assert_safe_mode_round_trip, perturb_weights

# Paper Table 1 written out here, independently of the package: (kernel, filters) per conv.
TABLE_1 = {
    "A": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "B": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    "C": [[64, 64], [128, 128], [256, 256, "1x1"], [512, 512, "1x1"], [512, 512, "1x1"]],
    "D": [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3],
    "E": [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}
PUBLISHED = {
    "A": 132_863_336,
    "A-LRN": 132_863_336,
    "B": 133_047_848,
    "C": 133_638_952,
    "D": 138_357_544,
    "E": 143_667_240,
}
TORCHVISION_BN = {"A": 132_868_840, "D": 138_365_992}  # conv biases + BN gamma and beta
GMACS = {"A": 7.61, "B": 11.31, "C": None, "D": 15.47, "E": 19.63}  # paper; C not given


def convs(config: str) -> list[tuple[int, int, int]]:
    """(kernel, c_in, c_out) of every convolution of `config`."""
    out, c_in = [], 3
    for stage in TABLE_1[config.removesuffix("-LRN")]:
        for entry in stage:
            kernel, c_out = (1, c_in) if entry == "1x1" else (3, entry)
            out.append((kernel, c_in, c_out))
            c_in = c_out
    return out


def expected_params(config: str, *, bn: bool = False, classes: int = 1000) -> int:
    """By hand: conv kernels (+ bias, or BN gamma and beta), then 25088-4096-4096-classes."""
    conv = sum(k * k * c_in * c_out + (2 if bn else 1) * c_out for k, c_in, c_out in convs(config))
    fc = 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes
    return conv + fc


def expected_gmacs(config: str, size: int = 224) -> float:
    """Multiply-adds by hand: stage s convolves (size / 2**s)^2 positions, then the FC layers."""
    macs, index = 0, 0
    for stage, stage_convs in enumerate(TABLE_1[config]):
        for _ in stage_convs:
            kernel, c_in, c_out = convs(config)[index]
            macs += (size // 2**stage) ** 2 * kernel * kernel * c_in * c_out
            index += 1
    return (macs + 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000) / 1e9


BUILDERS = {
    "A": kc.VGG11,
    "A-LRN": kc.VGG11_LRN,
    "B": kc.VGG13,
    "C": kc.VGG16C,
    "D": kc.VGG16,
    "E": kc.VGG19,
}


def test_oracle_reproduces_the_published_counts():
    for config, params in PUBLISHED.items():
        assert expected_params(config) == params
    for config, params in TORCHVISION_BN.items():
        # torchvision keeps the conv biases before BN; we drop them (they are redundant).
        assert expected_params(config, bn=True) + sum(c for _, _, c in convs(config)) == params


@pytest.mark.parametrize("config", list(BUILDERS))
def test_parameter_counts(config):
    assert kc.profile(BUILDERS[config]()).trainable_params == PUBLISHED[config]


@pytest.mark.parametrize("config", ["A", "D"])
def test_batch_norm_parameter_counts(config):
    model = BUILDERS[config](batch_norm=True)
    assert kc.profile(model).trainable_params == expected_params(config, bn=True)
    conv_biases = sum(c for _, _, c in convs(config))
    assert kc.profile(model).trainable_params + conv_biases == TORCHVISION_BN[config]
    assert all(
        not layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    )


@pytest.mark.parametrize("config", list(GMACS))
def test_multiply_adds(config):
    macs = kc.count_macs(BUILDERS[config]()) / 1e9
    assert macs == pytest.approx(expected_gmacs(config), rel=1e-9)
    if GMACS[config] is not None:
        assert macs == pytest.approx(GMACS[config], rel=0.01)


@pytest.mark.parametrize("config", list(BUILDERS))
def test_feature_maps_and_layers(config):
    model = BUILDERS[config](include_top=False, input_shape=(224, 224, 3))
    for stage, (size, width) in enumerate(
        zip((224, 112, 56, 28, 14), (64, 128, 256, 512, 512), strict=True), start=1
    ):
        last = len(TABLE_1[config.removesuffix("-LRN")][stage - 1])
        assert tuple(model.get_layer(f"block{stage}_conv{last}").output.shape[1:]) == (
            size,
            size,
            width,
        )
    assert tuple(model.output.shape[1:]) == (7, 7, 512)
    kernels = [
        layer.kernel_size for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    ]
    assert kernels == [(k, k) for k, _, _ in convs(config)]
    lrn = [layer.name for layer in model.layers if isinstance(layer, LocalResponseNormalization)]
    assert lrn == (["block1_lrn"] if config == "A-LRN" else [])


def test_head_needs_a_7x7_map():
    assert kc.VGG11(input_shape=(255, 255, 3)).output_shape == (None, 1000)
    with pytest.raises(ValueError, match=r"needs a 7x7 feature map.*gives 8x8.*dense_evaluation"):
        kc.VGG11(input_shape=(256, 256, 3))
    with pytest.raises(ValueError, match=r"config='F'.*'A', 'A-LRN', 'B', 'C', 'D', 'E'"):
        kc.VGG("F")
    with pytest.raises(ValueError, match="include_top=True"):
        kc.VGG11(include_top=False, dense_evaluation=True)


def test_dense_evaluation_shares_weights_and_takes_any_size(rng):
    model = kc.VGG11(classes=10)
    perturb_weights(model, rng)
    dense = kc.to_dense_evaluation(model)
    assert kc.profile(dense).trainable_params == kc.profile(model).trainable_params
    assert dense.get_layer("block1_conv1") is model.get_layer("block1_conv1")  # shared trunk
    x = rng.uniform(0, 1, (2, 224, 224, 3)).astype("float32")
    # At 224 the score map is 1x1: the dense head equals the fully connected one.
    np.testing.assert_allclose(
        np.asarray(dense(x, training=False)),
        np.asarray(model(x, training=False)),
        rtol=1e-4,
        atol=1e-6,
    )
    # At 288 the map is 9x9, the score map 3x3: the output averages the nine 7x7 windows' scores.
    big = rng.uniform(0, 1, (1, 288, 288, 3)).astype("float32")
    pooled = np.asarray(keras.Model(dense.input, dense.get_layer("fc1").input)(big))  # 9x9x512
    expected = np.mean(
        [head_logits(model, pooled[:, i : i + 7, j : j + 7]) for i in range(3) for j in range(3)],
        axis=0,
    )
    dense_logits = keras.Model(dense.input, dense.get_layer("score_pool").output)
    np.testing.assert_allclose(np.asarray(dense_logits(big)), expected, rtol=1e-4, atol=1e-5)


def head_logits(model: keras.Model, window: np.ndarray) -> np.ndarray:
    """fc1 -> fc2 -> predictions of the fully connected model on one 7x7 window."""
    x = model.get_layer("flatten")(window)
    for name in ("fc1", "fc2", "predictions"):
        x = model.get_layer(name)(x)
    return np.asarray(x)


def test_dense_evaluation_builder_and_round_trip(tmp_path, rng):
    model = kc.VGG11(dense_evaluation=True, classes=5, batch_norm=True)
    assert model.input_shape == (None, None, None, 3)
    perturb_weights(model, rng)
    x = rng.uniform(0, 1, (1, 256, 320, 3)).astype("float32")
    assert_safe_mode_round_trip(model, x, tmp_path)
    with pytest.raises(ValueError, match="at least 224"):
        kc.VGG11(dense_evaluation=True, input_shape=(200, 200, 3))


@pytest.mark.parametrize("config", ["A-LRN", "C"])
def test_round_trip_safe_mode(tmp_path, rng, config):
    model = BUILDERS[config](classes=4)
    perturb_weights(model, rng)
    x = rng.uniform(0, 1, (1, 224, 224, 3)).astype("float32")
    assert_safe_mode_round_trip(model, x, tmp_path)


@pytest.mark.parametrize("depth", [16, 19])
def test_parity_with_keras_applications(rng, depth):
    peer = getattr(keras.applications, f"VGG{depth}")(weights=None, classifier_activation=None)
    perturb_weights(peer, rng)  # non-zero biases
    ours = getattr(kc, f"VGG{depth}")(classifier_activation=None)
    assert [w.shape for w in ours.weights] == [w.shape for w in peer.weights]
    for layer in peer.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())  # same names
    x = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    expected, got = np.asarray(peer(x, training=False)), np.asarray(ours(x, training=False))
    assert_close_to_scale(got, expected)


TRUNKS = [
    (config, bn) for config in BUILDERS for bn in (False, True) if not (bn and "LRN" in config)
]


@pytest.mark.parametrize(("config", "batch_norm"), TRUNKS)
def test_every_trunk_round_trips_in_safe_mode(tmp_path, rng, config, batch_norm):
    model = BUILDERS[config](
        include_top=False, pooling="avg", batch_norm=batch_norm, input_shape=(64, 64, 3)
    )
    perturb_weights(model, rng)
    x = rng.uniform(0, 1, (1, 64, 64, 3)).astype("float32")
    assert_safe_mode_round_trip(model, x, tmp_path)


def test_converted_dense_model_round_trips(tmp_path, rng):
    dense = kc.to_dense_evaluation(kc.VGG11_LRN(classes=3))
    x = rng.uniform(0, 1, (1, 256, 256, 3)).astype("float32")
    assert_safe_mode_round_trip(dense, x, tmp_path)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_float32(rng, policy):
    keras.config.set_dtype_policy(policy)
    for model in (kc.VGG11_LRN(classes=10), kc.VGG11(classes=10, dense_evaluation=True)):
        out = model(rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        assert np.isfinite(np.asarray(out)).all()


def test_channels_first_equals_channels_last(rng):
    x = rng.uniform(0, 1, (2, 224, 224, 3)).astype("float32")
    last = kc.VGG11_LRN(classes=10, classifier_activation=None)
    perturb_weights(last, rng)
    keras.config.set_image_data_format("channels_first")
    first = kc.VGG11_LRN(classes=10, input_shape=(3, 224, 224), classifier_activation=None)
    first.set_weights(last.get_weights())  # Flatten orders features as channels_last does
    dense_first = kc.to_dense_evaluation(first)
    keras.config.set_image_data_format("channels_last")
    expected = last(x, training=False)
    for model in (first, dense_first):
        assert_close_to_scale(model(x.transpose(0, 3, 1, 2), training=False), expected)
    with pytest.raises(ValueError, match=r"channels_first.*set_image_data_format"):
        kc.to_dense_evaluation(first)  # the global format is channels_last again
