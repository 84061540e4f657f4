"""AlexNet variants against the paper (Krizhevsky et al. 2012) and torchvision's layout."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import keras_classics as kc
from tests.helpers import assert_close_to_scale, assert_safe_mode_round_trip, perturb_weights

PUBLISHED = {"paper": 60_965_224, "one_tower": 62_378_344, "owt": 61_100_840}


def expected_params(filters, groups, classes=1000) -> int:
    """By hand: conv1..conv5 (kernels 11, 5, 3, 3, 3; grouped kernels see C_in / groups), FCs."""
    total, c_in = 0, 3
    for kernel, c_out, g in zip((11, 5, 3, 3, 3), filters, groups, strict=True):
        total += kernel * kernel * (c_in // g) * c_out + c_out
        c_in = c_out
    return total + 6 * 6 * c_in * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes


def expected_macs(filters, groups, classes=1000) -> int:
    """By hand: output positions x kernel x C_in / groups x C_out, maps 55-27-13-13-13, FCs."""
    sizes, kernels, total, c_in = (55, 27, 13, 13, 13), (11, 5, 3, 3, 3), 0, 3
    for size, kernel, c_out, g in zip(sizes, kernels, filters, groups, strict=True):
        total += size * size * kernel * kernel * (c_in // g) * c_out
        c_in = c_out
    return total + 6 * 6 * c_in * 4096 + 4096 * 4096 + 4096 * classes


@pytest.mark.parametrize(
    ("variant", "filters", "groups", "readme_gmacs"),
    [
        ("paper", (96, 256, 384, 384, 256), (1, 2, 1, 2, 2), 0.724),
        ("one_tower", (96, 256, 384, 384, 256), (1,) * 5, 1.135),
        ("owt", (64, 192, 384, 256, 256), (1,) * 5, 0.714),
    ],
)
def test_multiply_adds(variant, filters, groups, readme_gmacs):
    macs = kc.count_macs(kc.AlexNet(variant=variant))
    assert macs == expected_macs(filters, groups)
    assert round(macs / 1e9, 3) == readme_gmacs


def test_oracle_reproduces_the_published_counts():
    paper = (96, 256, 384, 384, 256)
    assert expected_params(paper, (1, 2, 1, 2, 2)) == PUBLISHED["paper"]
    assert expected_params(paper, (1,) * 5) == PUBLISHED["one_tower"]
    assert expected_params((64, 192, 384, 256, 256), (1,) * 5) == PUBLISHED["owt"]


@pytest.mark.parametrize("variant", list(PUBLISHED))
def test_parameter_counts_and_feature_maps(variant):
    model = kc.AlexNet(variant=variant)
    assert kc.profile(model).trainable_params == PUBLISHED[variant]
    sizes = {
        name: model.get_layer(name).output.shape[1]
        for name in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")
    }
    assert list(sizes.values()) == [55, 27, 27, 13, 13, 13, 13, 6]


def test_grouped_convolutions_are_grouped(rng):
    paper, one_tower = kc.AlexNet(), kc.AlexNet(variant="one_tower")
    for name in ("conv2", "conv4", "conv5"):
        layer = paper.get_layer(name)
        c_in, c_out = layer.input.shape[-1], layer.filters
        x = rng.normal(size=(1, 13, 13, c_in)).astype("float32")
        moved = x.copy()
        moved[..., c_in // 2 :] += rng.normal(size=(1, 13, 13, c_in // 2))
        for model, grouped in ((paper, True), (one_tower, False)):
            conv = model.get_layer(name)
            before, after = np.asarray(conv(x)), np.asarray(conv(moved))
            first_half_same = np.allclose(before[..., : c_out // 2], after[..., : c_out // 2])
            assert first_half_same == grouped, (name, model.name)
            assert not np.allclose(before[..., c_out // 2 :], after[..., c_out // 2 :])
    assert paper.get_layer("conv3").groups == 1  # the one layer that crosses the towers


def test_paper_initialisation():
    model = kc.AlexNet()
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "predictions"):
        layer = model.get_layer(name)
        kernel = np.asarray(layer.kernel)
        assert kernel.std() == pytest.approx(0.01, rel=0.05), name
        assert abs(kernel.mean()) < 1e-3, name
        bias = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        np.testing.assert_array_equal(np.asarray(layer.bias), bias)


def test_lrn_and_pooling_layout():
    model = kc.AlexNet()
    names = [layer.name for layer in model.layers]
    assert names.index("norm1") == names.index("conv1") + 1
    assert names.index("pool1") == names.index("norm1") + 1
    assert names.index("norm2") == names.index("conv2") + 1
    assert model.get_layer("pool1").pool_size == (3, 3) and model.get_layer("pool1").strides == (
        2,
        2,
    )
    assert "norm1" not in [layer.name for layer in kc.AlexNet(variant="owt").layers]


def test_head_input_sizes():
    for size in (223, 254):
        assert kc.AlexNet(input_shape=(size, size, 3), classes=2).output_shape == (None, 2)
    for size in (222, 255):
        with pytest.raises(ValueError, match=r"6x6 feature map.*223 to 254"):
            kc.AlexNet(input_shape=(size, size, 3))
    with pytest.raises(ValueError, match=r"variant='vgg'.*'paper', 'one_tower', 'owt'"):
        kc.AlexNet(variant="vgg")


def adaptive_average_pool(x: np.ndarray, out: int) -> np.ndarray:
    """torchvision AdaptiveAvgPool2d: bin i is [floor(i * H / out), ceil((i + 1) * H / out))."""
    h, w = x.shape[1:3]
    rows = []
    for i in range(out):
        r0, r1 = (i * h) // out, math.ceil((i + 1) * h / out)
        rows.append(
            [
                x[:, r0:r1, (j * w) // out : math.ceil((j + 1) * w / out)].mean(axis=(1, 2))
                for j in range(out)
            ]
        )
    return np.stack([np.stack(row, axis=1) for row in rows], axis=1)


@pytest.mark.parametrize("size", [224, 320, 100])
def test_owt_adaptive_pool_matches_torchvision(rng, size):
    model = kc.AlexNet(variant="owt", input_shape=(size, size, 3), classes=3)
    probe = keras.Model(
        model.input, [model.get_layer("pool5").output, model.get_layer("avgpool").output]
    )
    pool5, pooled = (np.asarray(t) for t in probe(rng.uniform(0, 1, (2, size, size, 3))))
    np.testing.assert_allclose(pooled, adaptive_average_pool(pool5, 6), rtol=1e-5, atol=1e-7)
    if size == 224:
        np.testing.assert_array_equal(pooled, pool5)  # a no-op at 224


@pytest.mark.parametrize("variant", list(PUBLISHED))
def test_round_trip_safe_mode(tmp_path, rng, variant):
    model = kc.AlexNet(variant=variant, classes=10)
    perturb_weights(model, rng)
    x = rng.uniform(0, 1, (2, 224, 224, 3)).astype("float32")
    assert_safe_mode_round_trip(model, x, tmp_path)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_float32(rng, policy):
    keras.config.set_dtype_policy(policy)
    model = kc.AlexNet(classes=10)
    out = model(rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.isfinite(np.asarray(out)).all()


def test_channels_first_equals_channels_last(rng):
    x = rng.uniform(0, 1, (2, 224, 224, 3)).astype("float32")
    last = kc.AlexNet(classes=10, classifier_activation=None)
    perturb_weights(last, rng)
    keras.config.set_image_data_format("channels_first")
    first = kc.AlexNet(classes=10, input_shape=(3, 224, 224), classifier_activation=None)
    keras.config.set_image_data_format("channels_last")
    first.set_weights(last.get_weights())
    assert_close_to_scale(first(x.transpose(0, 3, 1, 2)), last(x))
