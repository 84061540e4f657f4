"""ResNet builders against the paper (He et al. 2015) and keras.applications."""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.layers import ZeroPaddingShortcut
from tests.helpers import assert_close_to_scale, perturb_weights

# Paper Table 1 and section 4.2, written out here independently of the package's tables.
IMAGENET = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
PUBLISHED_PARAMS_B = {
    18: 11_689_512,
    34: 21_797_672,
    50: 25_557_032,
    101: 44_549_160,
    152: 60_192_808,
}
PUBLISHED_CIFAR_PARAMS = {
    20: 269_722,
    32: 464_154,
    44: 658_586,
    56: 853_018,
    110: 1_727_962,
    1202: 19_421_274,
}
PAPER_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


def expected_params(
    block: str,
    repeats: tuple[int, ...],
    shortcut: str,
    *,
    cifar: bool = False,
    plain: bool = False,
    classes: int = 1000,
) -> int:
    """Trainable parameters by hand: conv kernels, BN gamma and beta, projections, the FC."""

    def conv_bn(k: int, c_in: int, c_out: int) -> int:
        return k * k * c_in * c_out + 2 * c_out

    widths = (16, 32, 64) if cifar else (64, 128, 256, 512)
    total = conv_bn(3, 3, 16) if cifar else conv_bn(7, 3, 64)
    c_in = widths[0]
    for stage, (width, blocks) in enumerate(zip(widths, repeats, strict=True)):
        for index in range(blocks):
            stride = 2 if index == 0 and stage > 0 else 1
            if block == "basic":
                c_out = width
                total += conv_bn(3, c_in, width) + conv_bn(3, width, width)
            else:
                c_out = 4 * width
                total += conv_bn(1, c_in, width) + conv_bn(3, width, width)
                total += conv_bn(1, width, c_out)
            changes = stride != 1 or c_in != c_out
            if not plain and (shortcut == "C" or (shortcut == "B" and changes)):
                total += conv_bn(1, c_in, c_out)
            c_in = c_out
    return total + c_in * classes + classes


def trainable(model: keras.Model) -> int:
    return kc.profile(model).trainable_params


def test_oracle_reproduces_the_published_counts():
    for depth, params in PUBLISHED_PARAMS_B.items():
        assert expected_params(*IMAGENET[depth], "B") == params
    for depth, params in PUBLISHED_CIFAR_PARAMS.items():
        n = (depth - 2) // 6
        assert expected_params("basic", (n, n, n), "A", cifar=True, classes=10) == params
    assert expected_params(*IMAGENET[34], "A") == 21_623_848  # documented in docs/models.md
    assert expected_params(*IMAGENET[34], "C") == 22_716_840


@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
@pytest.mark.parametrize("depth", list(IMAGENET))
def test_imagenet_parameter_counts(depth, shortcut):
    model = kc.ResNet(depth, shortcut=shortcut)
    assert trainable(model) == expected_params(*IMAGENET[depth], shortcut)
    if shortcut == "B":
        assert trainable(model) == PUBLISHED_PARAMS_B[depth]


@pytest.mark.parametrize("depth", [18, 34])
def test_plain_nets_have_option_a_counts_and_no_additions(depth):
    model = kc.get_model(f"plain{depth}")
    assert trainable(model) == expected_params(*IMAGENET[depth], "A", plain=True)
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]


@pytest.mark.parametrize("depth", list(PUBLISHED_CIFAR_PARAMS))
def test_cifar_parameter_counts(depth):
    builder = getattr(kc, f"ResNet{depth}")
    assert trainable(builder()) == PUBLISHED_CIFAR_PARAMS[depth]
    if depth <= 56:
        n = (depth - 2) // 6
        for shortcut in ("B", "C"):
            expected = expected_params("basic", (n,) * 3, shortcut, cifar=True, classes=10)
            assert trainable(builder(shortcut=shortcut)) == expected


def test_cifar_plain_nets_match_option_a():
    # Option A has no parameters, so plain and residual CIFAR nets count the same.
    assert trainable(kc.get_model("plain56")) == PUBLISHED_CIFAR_PARAMS[56]
    assert not [
        layer
        for layer in kc.get_model("plain20").layers
        if isinstance(layer, (keras.layers.Add, ZeroPaddingShortcut))
    ]


@pytest.mark.parametrize("depth", list(IMAGENET))
def test_multiply_adds_match_table_1(depth):
    macs = kc.count_macs(kc.ResNet(depth))
    assert macs / 1e9 == pytest.approx(PAPER_GMACS[depth], rel=0.05)


def test_v1_5_layout_costs_more():
    assert kc.count_macs(kc.ResNet50(stride_in_1x1=False)) / 1e9 == pytest.approx(4.09, rel=0.01)


@pytest.mark.parametrize("depth", list(IMAGENET))
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_imagenet_feature_maps(depth, pooling):
    model = kc.ResNet(depth, include_top=False, pooling=pooling, input_shape=(224, 224, 3))
    expansion = 1 if IMAGENET[depth][0] == "basic" else 4
    for stage, (size, width) in enumerate(
        zip((56, 28, 14, 7), (64, 128, 256, 512), strict=True), start=2
    ):
        blocks = IMAGENET[depth][1][stage - 2]
        out = model.get_layer(f"conv{stage}_block{blocks}_out").output
        assert tuple(out.shape[1:]) == (size, size, width * expansion)
    final = (7, 7, 512 * expansion) if pooling is None else (512 * expansion,)
    assert tuple(model.output.shape[1:]) == final


@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_cifar_feature_maps(pooling):
    model = kc.ResNet20(include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    for stage, (size, width) in enumerate(zip((32, 16, 8), (16, 32, 64), strict=True), start=2):
        assert tuple(model.get_layer(f"conv{stage}_block3_out").output.shape[1:]) == (
            size,
            size,
            width,
        )
    assert tuple(model.output.shape[1:]) == ((8, 8, 64) if pooling is None else (64,))


def test_layout_options_are_where_the_papers_put_them():
    v1, v15 = kc.ResNet50(), kc.ResNet50(stride_in_1x1=False)
    assert v1.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert v1.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert all(not layer.use_bias for layer in v1.layers if isinstance(layer, keras.layers.Conv2D))
    a, c = kc.ResNet18(shortcut="A"), kc.ResNet18(shortcut="C")
    assert [layer.name for layer in a.layers if isinstance(layer, ZeroPaddingShortcut)] == [
        "conv3_block1_0_pad",
        "conv4_block1_0_pad",
        "conv5_block1_0_pad",
    ]
    assert sum(layer.name.endswith("_0_conv") for layer in c.layers) == 8  # every block


def test_zero_init_residual_zeroes_the_last_bn_of_each_branch():
    model = kc.ResNet50(zero_init_residual=True, input_shape=(64, 64, 3))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            expected = 0.0 if layer.name.endswith("_3_bn") else 1.0
            np.testing.assert_array_equal(np.asarray(layer.gamma), expected)
    with pytest.raises(ValueError, match="plain"):
        kc.ResNet18(plain=True, zero_init_residual=True)


@pytest.mark.parametrize("size", [64, 65])
def test_strided_convolutions_pad_symmetrically(rng, size):
    """The stride-2 3x3 convolution equals TensorFlow's conv with explicit padding 1 all round."""
    import tensorflow as tf

    model = kc.ResNet18(input_shape=(size, size, 3), include_top=False)
    perturb_weights(model, rng)
    block_input = model.get_layer("conv3_block1_1_pad").input
    conv = model.get_layer("conv3_block1_1_conv")
    probe = keras.Model(model.input, [block_input, conv.output])
    x = rng.uniform(0, 1, (2, size, size, 3)).astype("float32")
    features, ours = (np.asarray(t) for t in probe(x))
    reference = tf.nn.conv2d(
        features, conv.kernel.numpy(), strides=2, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]
    )
    np.testing.assert_allclose(ours, reference.numpy(), rtol=1e-5, atol=1e-5)
    # "SAME" pads an even-sized map asymmetrically (0 before, 1 after), an odd one symmetrically:
    # on even sizes it gives other numbers, so this test can tell the two apart.
    same = tf.nn.conv2d(features, conv.kernel.numpy(), strides=2, padding="SAME").numpy()
    differs = np.abs(same - ours).max() > 1e-3 * np.abs(ours).max()
    assert differs == (features.shape[1] % 2 == 0)


def cifar_macs(depth: int, classes: int = 10) -> int:
    """Multiply-adds by hand: conv1 and 2n 3x3 convs per stage at 32, 16, 8; option A adds none."""
    n = (depth - 2) // 6
    macs, c_in = 32 * 32 * 9 * 3 * 16, 16
    for size, width in ((32, 16), (16, 32), (8, 64)):
        macs += size * size * 9 * (c_in * width + (2 * n - 1) * width * width)
        c_in = width
    return macs + 64 * classes


@pytest.mark.parametrize(
    ("depth", "readme_mmacs"),
    [(20, 40.6), (32, 68.9), (44, 97.2), (56, 125.5), (110, 252.9), (1202, 2829.2)],
)
def test_cifar_multiply_adds(depth, readme_mmacs):
    macs = kc.count_macs(kc.ResNetCIFAR(depth))
    assert macs == cifar_macs(depth)
    assert round(macs / 1e6, 1) == readme_mmacs


CHANNELS_FIRST_CASES = {
    "cifar20-A": (partial(kc.ResNet20), 32),
    "resnet18-A": (partial(kc.ResNet18, shortcut="A"), 32),
    "resnet50-B": (partial(kc.ResNet50), 64),
    "resnet50-C-v1.5": (partial(kc.ResNet50, shortcut="C", stride_in_1x1=False), 65),
}


@pytest.mark.parametrize("case", list(CHANNELS_FIRST_CASES))
def test_channels_first_equals_channels_last(rng, case):
    builder, size = CHANNELS_FIRST_CASES[case]
    x = rng.uniform(0, 1, (2, size, size, 3)).astype("float32")
    last = builder(input_shape=(size, size, 3), classifier_activation=None)
    perturb_weights(last, rng)
    keras.config.set_image_data_format("channels_first")
    first = builder(input_shape=(3, size, size), classifier_activation=None)
    keras.config.set_image_data_format("channels_last")
    first.set_weights(last.get_weights())  # kernels have the same layout in both formats
    assert_close_to_scale(first(x.transpose(0, 3, 1, 2), training=False), last(x, training=False))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_float32(rng, policy):
    keras.config.set_dtype_policy(policy)
    for model in (kc.ResNet18(input_shape=(64, 64, 3)), kc.ResNet20()):
        assert model.get_layer("conv1_conv").compute_dtype == policy.removeprefix("mixed_")
        out = model(rng.uniform(0, 1, (2, *model.input_shape[1:])).astype("float32"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_allclose(np.asarray(out).sum(axis=-1), 1.0, rtol=1e-3)
    compute = policy.removeprefix("mixed_")
    for pooling, dtype in (("avg", "float32"), ("max", "float32"), (None, compute)):
        model = kc.ResNet18(input_shape=(64, 64, 3), include_top=False, pooling=pooling)
        out = model(rng.uniform(0, 1, (1, 64, 64, 3)).astype("float32"))
        assert keras.backend.standardize_dtype(out.dtype) == dtype, pooling


def test_input_tensor_keeps_its_source(rng):
    inputs = keras.Input((32, 32, 3))
    scaled = keras.layers.Rescaling(1 / 255)(inputs)
    model = kc.ResNet20(input_tensor=scaled)
    assert model.inputs[0] is inputs  # the Rescaling layer is part of the model
    assert any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)
    assert model(rng.uniform(0, 255, (1, 32, 32, 3))).shape == (1, 10)


def test_any_input_size_with_none(rng):
    model = kc.ResNet18(input_shape=(None, None, 3), classes=7)
    for size in (32, 97):
        assert model(rng.uniform(0, 1, (1, size, size, 3))).shape == (1, 7)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kc.ResNet(42), r"depth=42 .*\[18, 34, 50, 101, 152\]"),
        (lambda: kc.ResNetCIFAR(21), r"6n \+ 2.*\(20, 32, 44, 56, 110, 1202\)"),
        (lambda: kc.ResNet18(shortcut="D"), r"shortcut='D'.*\['A', 'B', 'C'\]"),
        (lambda: kc.ResNet18(classes=0), "classes must be a positive int"),
        (lambda: kc.ResNet18(pooling="mean"), r"pooling='mean'.*None, 'avg', 'max'"),
        (lambda: kc.ResNet18(input_shape=(16, 16, 3)), "at least 32"),
        (lambda: kc.ResNet20(input_shape=(32, 32)), "3 entries"),
        (lambda: kc.ResNet20(input_shape=(32, 32, 0)), "positive number of channels"),
        (lambda: kc.ResNet20(weights="imagenet"), "has no public ImageNet weights"),
        (lambda: kc.ResNet18(weights="/nonexistent/w.weights.h5"), "does not exist"),
        (lambda: kc.ResNet18(weights="w.h5"), r"\['.weights.h5', '.keras'\]"),
        (lambda: kc.get_model("resnet51"), r"unknown model 'resnet51'.*'resnet50'"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_argument_loads_files_and_rejects_mismatches(tmp_path, rng, suffix):
    source = kc.ResNet20()
    perturb_weights(source, rng)
    path = tmp_path / f"resnet20{suffix}"
    source.save_weights(path) if suffix == ".weights.h5" else source.save(path)
    x = rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(kc.ResNet20(weights=path)(x, training=False)),
        np.asarray(source(x, training=False)),
    )
    corrupt = tmp_path / f"corrupt{suffix}"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"corrupt{suffix}.* cannot be read"):
        kc.ResNet20(weights=corrupt)
    for wrong in (lambda: kc.ResNet20(weights=path, classes=5), lambda: kc.ResNet32(weights=path)):
        with pytest.raises(ValueError, match=f"weights file .*{suffix}.* does not match model"):
            wrong()
