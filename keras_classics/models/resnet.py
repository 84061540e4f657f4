"""ResNet (He, Zhang, Ren, Sun 2015, arXiv 1512.03385): ImageNet and CIFAR families.

Layer names (stable; weight converters rely on them) follow `keras.applications`:
- stem: `conv1_pad`, `conv1_conv`, `conv1_bn`, `conv1_relu`, `pool1_pad`, `pool1_pool`
  (CIFAR: `conv1_conv`, `conv1_bn`, `conv1_relu`);
- block j of stage i (i = 2..5 on ImageNet, 2..4 on CIFAR), prefix `conv{i}_block{j}`:
  `_1_conv`, `_1_bn`, `_1_relu`, `_2_...`, (bottleneck) `_3_conv`, `_3_bn`; `_k_pad` before a
  strided 3x3; the shortcut `_0_conv`, `_0_bn` (projection) or `_0_pad` (option A); `_add`, `_out`
  (the ReLU after the addition; in plain nets, the last ReLU of the block);
- head: `avg_pool`, `predictions`, `predictions_activation`; without the top, `avg_pool` or
  `max_pool`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import keras
from keras import layers

from keras_classics.layers import ZeroPaddingShortcut
from keras_classics.models.common import (
    allow_graph_depth,
    channel_axis,
    check_builder_args,
    check_choice,
    classifier,
    conv_bn,
    global_pool,
    load_weights,
    model_input,
    named_variant,
)
from keras_classics.registry import register_model

SHORTCUTS = ("A", "B", "C")
BOTTLENECK_EXPANSION = 4


@dataclass(frozen=True)
class ResNetSpec:
    """One column of the paper's architecture tables."""

    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 x4)
    repeats: tuple[int, ...]  # blocks per stage
    widths: tuple[int, ...]  # filters of each stage's 3x3 convolutions
    stem: str  # "imagenet" (7x7/2 conv + 3x3/2 max-pool) or "cifar" (3x3 conv)
    input_size: int

    @property
    def depth(self) -> int:
        """Weighted layers: 2 (basic) or 3 (bottleneck) per block, the stem and the classifier."""
        return (3 if self.block == "bottleneck" else 2) * sum(self.repeats) + 2

    @property
    def total_stride(self) -> int:
        """Input pixels per output pixel of the last stage."""
        stem_stride = 4 if self.stem == "imagenet" else 1
        return stem_stride * 2 ** (len(self.widths) - 1)


# Paper Table 1: depth -> block type and blocks per stage conv2_x..conv5_x.
IMAGENET_SPECS: dict[int, ResNetSpec] = {
    depth: ResNetSpec(block, repeats, (64, 128, 256, 512), "imagenet", 224)
    for depth, block, repeats in [
        (18, "basic", (2, 2, 2, 2)),
        (34, "basic", (3, 4, 6, 3)),
        (50, "bottleneck", (3, 4, 6, 3)),
        (101, "bottleneck", (3, 4, 23, 3)),
        (152, "bottleneck", (3, 8, 36, 3)),
    ]
}
# Paper section 4.2: 6n + 2 layers, n basic blocks on each of 32x32, 16x16, 8x8 maps.
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)
CIFAR_WIDTHS = (16, 32, 64)


def cifar_spec(depth: int) -> ResNetSpec:
    """The CIFAR ResNet of `depth` = 6n + 2 layers (any n >= 1)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth={depth!r} is not 6n + 2 with n >= 1; the paper's depths are {CIFAR_DEPTHS}"
        )
    n = (depth - 2) // 6
    return ResNetSpec("basic", (n, n, n), CIFAR_WIDTHS, "cifar", 32)


# --- blocks -------------------------------------------------------------------------------


def relu(x: Any, name: str) -> Any:
    return layers.Activation("relu", name=name)(x)


def shortcut_branch(
    x: Any, filters: int, strides: int, shortcut: str, name: str, rank: int = 2
) -> Any:
    """The shortcut of a residual block: identity, option A zero padding, or a projection.

    Option A: identity, `ZeroPaddingShortcut` where the shape changes (no parameters).
    Option B: 1x1 projection + BN where the shape changes, identity elsewhere.
    Option C: 1x1 projection + BN on every block.
    `rank=1`: on signals `[batch, length, channels]` (`conv_bn`'s rank).
    """
    changes = strides != 1 or x.shape[-1 if rank == 1 else channel_axis()] != filters
    if shortcut == "C" or (shortcut == "B" and changes):
        return conv_bn(x, filters, 1, strides, name=f"{name}_0", rank=rank)
    if changes:
        return zero_padding_shortcut(x, filters, strides, name, rank)
    return x


def zero_padding_shortcut(x: Any, filters: int, strides: int, name: str, rank: int = 2) -> Any:
    """Option A: `{name}_0_pad`, a `ZeroPaddingShortcut` (keeps every `strides`-th position,
    pads the new channels with zeros; no parameters).

    On signals (`rank=1`) it works on `[batch, length, 1, channels]`: `{name}_0_expand`,
    `{name}_0_pad`, `{name}_0_squeeze`.
    """
    if rank == 2:
        return ZeroPaddingShortcut(filters, strides, name=f"{name}_0_pad")(x)
    x = layers.Reshape((-1, 1, x.shape[-1]), name=f"{name}_0_expand")(x)
    x = ZeroPaddingShortcut(
        filters, (strides, 1), data_format="channels_last", name=f"{name}_0_pad"
    )(x)
    return layers.Reshape((-1, filters), name=f"{name}_0_squeeze")(x)


def merge(x: Any, shortcut: Any, name: str) -> Any:
    """`{name}_add` of the residual and the shortcut (none in plain nets), then `{name}_out`."""
    if shortcut is not None:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return relu(x, f"{name}_out")


def basic_block(
    x: Any,
    filters: int,
    strides: int,
    *,
    shortcut: str | None,
    zero_init_residual: bool,
    name: str,
    rank: int = 2,
) -> Any:
    """Two 3x3 convolutions (paper Fig. 5 left); the first carries the stride.

    `shortcut=None` builds the plain block (no shortcut, no addition). `rank=1`: 3-wide
    convolutions on signals (`conv_bn`'s rank).
    """
    identity = None
    if shortcut is not None:
        identity = shortcut_branch(x, filters, strides, shortcut, name, rank)
    x = relu(conv_bn(x, filters, 3, strides, name=f"{name}_1", rank=rank), f"{name}_1_relu")
    x = conv_bn(x, filters, 3, name=f"{name}_2", zero_gamma=zero_init_residual, rank=rank)
    return merge(x, identity, name)


def bottleneck_block(
    x: Any,
    filters: int,
    strides: int,
    *,
    shortcut: str | None,
    stride_in_1x1: bool,
    zero_init_residual: bool,
    name: str,
) -> Any:
    """1x1 `filters`, 3x3 `filters`, 1x1 4 x `filters` (paper Fig. 5 right).

    The stride sits on the first 1x1 (`stride_in_1x1=True`, the authors' released models and
    keras.applications) or on the 3x3 (`False`, "v1.5" as torchvision and NVIDIA).
    """
    out_filters = BOTTLENECK_EXPANSION * filters
    identity = (
        None if shortcut is None else shortcut_branch(x, out_filters, strides, shortcut, name)
    )
    stride_1x1, stride_3x3 = (strides, 1) if stride_in_1x1 else (1, strides)
    x = relu(conv_bn(x, filters, 1, stride_1x1, name=f"{name}_1"), f"{name}_1_relu")
    x = relu(conv_bn(x, filters, 3, stride_3x3, name=f"{name}_2"), f"{name}_2_relu")
    x = conv_bn(x, out_filters, 1, name=f"{name}_3", zero_gamma=zero_init_residual)
    return merge(x, identity, name)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}


def stem(x: Any, spec: ResNetSpec) -> Any:
    """ImageNet: 7x7/2 conv 64, BN, ReLU, 3x3/2 max-pool (pad 1). CIFAR: 3x3 conv 16, BN, ReLU."""
    if spec.stem == "cifar":
        return relu(conv_bn(x, spec.widths[0], 3, name="conv1"), "conv1_relu")
    x = relu(conv_bn(x, spec.widths[0], 7, 2, name="conv1"), "conv1_relu")
    # Zero padding equals PyTorch's -inf padding here: the inputs are ReLU outputs (>= 0).
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


# --- the builder -------------------------------------------------------------------------


def residual_stages(
    x: Any, widths: Sequence[int], repeats: Sequence[int], block: Callable[..., Any]
) -> Any:
    """Stages conv2, conv3, ...: `repeats[i]` blocks of `widths[i]` filters each, the first
    block of every stage after the first with stride 2 (paper Table 1 and section 4.2)."""
    for stage, (filters, count) in enumerate(zip(widths, repeats, strict=True), start=2):
        for index in range(count):
            strides = 2 if index == 0 and stage > 2 else 1
            x = block(x, filters, strides, name=f"conv{stage}_block{index + 1}")
    return x


def build_resnet(
    spec: ResNetSpec,
    *,
    include_top: bool,
    weights: str | os.PathLike | None,
    input_tensor: Any,
    input_shape: tuple[int | None, ...] | None,
    pooling: str | None,
    classes: int,
    classifier_activation: str | None,
    name: str,
    shortcut: str,
    stride_in_1x1: bool,
    zero_init_residual: bool,
    plain: bool,
) -> keras.Model:
    """Builds the network `spec` describes; the public builders below all end here."""
    weights = check_builder_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=f"{'plain' if plain else 'resnet'}{spec.depth}",
        structure={"shortcut": shortcut, "stride_in_1x1": stride_in_1x1},
    )
    check_choice("shortcut", shortcut, SHORTCUTS)
    if plain and zero_init_residual:
        raise ValueError("zero_init_residual=True needs residual blocks; a plain net has none")
    inputs, x = model_input(
        input_tensor,
        input_shape,
        default_size=spec.input_size if include_top else None,
        min_size=spec.total_stride,
        model_name=name,
    )
    options = {"shortcut": None if plain else shortcut, "zero_init_residual": zero_init_residual}
    if spec.block == "bottleneck":
        options["stride_in_1x1"] = stride_in_1x1
    block = partial(BLOCKS[spec.block], **options)
    allow_graph_depth(8 * sum(spec.repeats))  # at most 8 layers per block
    x = residual_stages(stem(x, spec), spec.widths, spec.repeats, block)
    if include_top:
        x = classifier(global_pool(x, "avg"), classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return load_weights(keras.Model(inputs, x, name=name), weights)


def ResNet(
    depth: int = 50,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int | None, ...] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    shortcut: str = "B",
    stride_in_1x1: bool = True,
    zero_init_residual: bool = False,
    plain: bool = False,
) -> keras.Model:
    """ImageNet ResNet of paper Table 1 (depth 18, 34, 50, 101 or 152).

    Args:
        depth: 18 or 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as in `keras.applications`. `weights` is None,
            "imagenet" (see `keras_classics.weights.pretrained`) or the path of a
            `.weights.h5` / `.keras` file. The default input is 224x224x3; with
            `input_shape=(None, None, 3)` the model takes any size of at least 32.
        shortcut: "A" zero-padding identity, "B" projection where the shape changes (paper's
            default for ResNet-50/101/152), "C" projection everywhere (paper section 3.3).
        stride_in_1x1: bottleneck stride on the first 1x1 (True: paper v1, keras.applications)
            or on the 3x3 (False: "v1.5", torchvision and NVIDIA). Basic blocks (ResNet-18/34)
            have no 1x1, so it does not change them.
        zero_init_residual: start the last BN of each residual branch at gamma = 0
            (Goyal et al. 2017), so each block starts as its shortcut.
        plain: drop the shortcuts (the paper's plain baselines, section 4.1); `shortcut` is then
            unused.
    """
    if depth not in IMAGENET_SPECS:
        raise ValueError(
            f"depth={depth!r} is not in paper Table 1; choose one of {list(IMAGENET_SPECS)}"
        )
    return build_resnet(
        IMAGENET_SPECS[depth],
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name or f"{'plain' if plain else 'resnet'}{depth}",
        shortcut=shortcut,
        stride_in_1x1=stride_in_1x1,
        zero_init_residual=zero_init_residual,
        plain=plain,
    )


def ResNetCIFAR(
    depth: int = 20,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int | None, ...] | None = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    shortcut: str = "A",
    zero_init_residual: bool = False,
    plain: bool = False,
) -> keras.Model:
    """CIFAR-10 ResNet of paper section 4.2: 6n + 2 layers, 16-32-64 filters, 32x32 input.

    Arguments as `ResNet`, with `classes=10` and `shortcut="A"` (the paper's choice) by default.
    `depth` is any 6n + 2; the paper's are 20, 32, 44, 56, 110 and 1202.
    """
    return build_resnet(
        cifar_spec(depth),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name or f"{'plain' if plain else 'resnet'}{depth}",
        shortcut=shortcut,
        stride_in_1x1=True,
        zero_init_residual=zero_init_residual,
        plain=plain,
    )


# --- named variants (the paper's networks) -----------------------------------------------

ResNet18 = named_variant(
    ResNet,
    18,
    "ResNet18",
    "ResNet-18: basic blocks 2-2-2-2; 11,689,512 parameters (option B, 1000 classes).",
)
ResNet34 = named_variant(
    ResNet,
    34,
    "ResNet34",
    "ResNet-34: basic blocks 3-4-6-3; 21,797,672 parameters (option B, 1000 classes).",
)
ResNet50 = named_variant(
    ResNet,
    50,
    "ResNet50",
    "ResNet-50: bottleneck blocks 3-4-6-3; 25,557,032 parameters (option B, 1000 classes).",
)
ResNet101 = named_variant(
    ResNet,
    101,
    "ResNet101",
    "ResNet-101: bottleneck blocks 3-4-23-3; 44,549,160 parameters (option B).",
)
ResNet152 = named_variant(
    ResNet,
    152,
    "ResNet152",
    "ResNet-152: bottleneck blocks 3-8-36-3; 60,192,808 parameters (option B).",
)
ResNet20 = named_variant(
    ResNetCIFAR, 20, "ResNet20", "CIFAR ResNet-20 (n = 3): 269,722 parameters with 10 classes."
)
ResNet32 = named_variant(
    ResNetCIFAR, 32, "ResNet32", "CIFAR ResNet-32 (n = 5): 464,154 parameters with 10 classes."
)
ResNet44 = named_variant(
    ResNetCIFAR, 44, "ResNet44", "CIFAR ResNet-44 (n = 7): 658,586 parameters with 10 classes."
)
ResNet56 = named_variant(
    ResNetCIFAR, 56, "ResNet56", "CIFAR ResNet-56 (n = 9): 853,018 parameters with 10 classes."
)
ResNet110 = named_variant(
    ResNetCIFAR,
    110,
    "ResNet110",
    "CIFAR ResNet-110 (n = 18): 1,727,962 parameters with 10 classes.",
)
ResNet1202 = named_variant(
    ResNetCIFAR,
    1202,
    "ResNet1202",
    "CIFAR ResNet-1202 (n = 200): 19,421,274 parameters with 10 classes.",
)


for _depth in IMAGENET_SPECS:
    register_model(f"resnet{_depth}", partial(ResNet, _depth), family="resnet", input_size=224)
for _depth in (18, 34):
    register_model(
        f"plain{_depth}", partial(ResNet, _depth), family="resnet", input_size=224, plain=True
    )
for _depth in CIFAR_DEPTHS:
    for _plain in (False, True):
        register_model(
            f"{'plain' if _plain else 'resnet'}{_depth}",
            partial(ResNetCIFAR, _depth),
            family="resnet_cifar",
            input_size=32,
            default_classes=10,
            plain=_plain,
        )
