"""One-dimensional models for MNIST-1D signals (Greydanus 2020) and the ResNet in 1D.

- `MNIST1DLogistic`, `MNIST1DMLP`, `MNIST1DCNN`: the baselines of the MNIST-1D paper, as its
  repository's `models.py` defines them (logistic regression, 410 parameters; an MLP with two
  hidden layers of 100 and a residual second layer, 15,210; a CNN of three strided
  convolutions with 25 channels and a linear head on the flattened features, 5,210).
- `ResNet1D`: the CIFAR ResNet of He et al. 2015, section 4.2, in one dimension: a 3-wide
  convolution with 16 filters, three stages of n basic blocks (16, 32, 64 filters; stride 2 at
  the first block of stages 3 and 4), global average pooling, a 10-way classifier; 6n + 2
  layers, shortcut options A, B, C and the plain net, exactly as `ResNetCIFAR` in 2D.

Inputs are signals `[batch, length]` or `[batch, length, channels]` (channels last, whatever the
global image data format). Layer names follow `models/resnet.py`: `conv1_conv`, `conv1_bn`,
`conv1_relu`; `conv{i}_block{j}_1_conv` ... `_0_conv`, `_0_bn` or `_0_pad`, `_add`, `_out`; head
`avg_pool`, `predictions`, `predictions_activation`. The CNN's convolutions are `conv1` ..
`conv3` (`_pad`, `_conv`, `_relu`) and the MLP's layers `fc1`, `fc2` (`_relu`, `fc2_add`). A
signal without a channel axis gets one from `expand` (conv nets) and conv features are
flattened by `flatten`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import keras
from keras import layers

from keras_classics.models.common import (
    allow_graph_depth,
    check_builder_args,
    check_choice,
    classifier,
    conv_bn,
    keras_input,
    load_weights,
)
from keras_classics.models.resnet import SHORTCUTS, basic_block, relu, residual_stages
from keras_classics.registry import register_model

SIGNAL_LENGTH = 40  # MNIST-1D's final_seq_length
CLASSES = 10
FAMILY = "mnist1d"
DATA_FORMAT = "channels_last"
RESNET1D_WIDTHS = (16, 32, 64)  # the CIFAR ResNet's stages
RESNET1D_DEPTHS = (20, 56)  # registered; any 6n + 2 builds


# --- input and head ----------------------------------------------------------------------


def signal_input(
    input_tensor: Any,
    input_shape: Sequence[int | None] | None,
    *,
    min_length: int,
    model_name: str,
    fixed_length: bool = False,
) -> tuple[Any, Any]:
    """Returns (model inputs, signal) from `input_tensor` / `input_shape`: `model_input` of
    `models/common.py` for 1D signals (channels last whatever the image data format).

    `input_shape` is `(length,)` or `(length, channels)`, default `(40,)`. `length` may be None
    (any length) unless the model is `fixed_length` (a flattening head), and when given must be
    at least `min_length`. `model_name` is the registered name, as the user types it.
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    shape = (SIGNAL_LENGTH,) if input_shape is None else tuple(input_shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and (shape[1] or 0) < 1):
        raise ValueError(
            f"input_shape must be (length,) or (length, channels) with channels >= 1 for "
            f"{model_name}; got {shape}"
        )
    length = shape[0]
    if (length is None and fixed_length) or (length is not None and length < min_length):
        raise ValueError(
            f"input_shape {shape} does not suit {model_name}: the length must be "
            f"{'an int' if fixed_length else 'None or an int'} of at least {min_length}"
        )
    return keras_input(input_tensor, shape)


def with_channels(x: Any) -> Any:
    """`[batch, length]` -> `[batch, length, 1]` (`expand`); signals with channels unchanged."""
    return layers.Reshape((-1, 1), name="expand")(x) if len(x.shape) == 2 else x


def global_pool_1d(x: Any, pooling: str | None) -> Any:
    """`pooling` "avg" -> `avg_pool`, "max" -> `max_pool` (float32), None -> x unchanged."""
    if pooling == "avg":
        return layers.GlobalAveragePooling1D(
            data_format=DATA_FORMAT, name="avg_pool", dtype="float32"
        )(x)
    if pooling == "max":
        return layers.GlobalMaxPooling1D(data_format=DATA_FORMAT, name="max_pool", dtype="float32")(
            x
        )
    return x


def flat_head(
    x: Any,
    *,
    include_top: bool,
    pooling: str | None,
    classes: int,
    classifier_activation: str | None,
) -> Any:
    """`flatten` + `predictions` with the top; the pooled (or unpooled) features without it."""
    if include_top:
        return classifier(
            layers.Flatten(data_format=DATA_FORMAT, name="flatten")(x),
            classes,
            classifier_activation,
        )
    return global_pool_1d(x, pooling) if len(x.shape) == 3 else x


def check_args(
    *,
    include_top: bool,
    weights: str | os.PathLike | None,
    pooling: str | None,
    classes: int,
    model: str,
    structure: dict[str, Any],
) -> Any:
    """`check_builder_args` for this family: no ImageNet weights exist for 1D signals."""
    if isinstance(weights, str) and weights == "imagenet":
        raise ValueError(
            f"weights='imagenet' does not exist for the 1D {model}; use None or a "
            "`.weights.h5` / `.keras` file"
        )
    return check_builder_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=model,
        structure=structure,
    )


# --- the MNIST-1D paper's baselines ------------------------------------------------------


def MNIST1DMLP(
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = CLASSES,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    hidden: int = 100,
) -> keras.Model:
    """The MNIST-1D paper's MLP (68%): `fc1` ReLU, h + ReLU(`fc2` h), `predictions`.

    Arguments as `keras.applications`; `input_shape` is `(length,)` or `(length, channels)`
    (default `(40,)`). `hidden` units per layer: 100 in the paper's `models.py` (15,210
    parameters); 0 leaves out the hidden layers: logistic regression (`MNIST1DLogistic`).
    Without the top the model returns the last hidden layer (or the flattened input).
    """
    model = "mlp_1d" if hidden else "logistic_1d"
    weights = check_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=model,
        structure={"hidden": hidden},
    )
    inputs, x = signal_input(
        input_tensor, input_shape, min_length=1, model_name=model, fixed_length=True
    )
    if len(x.shape) == 3:
        x = layers.Flatten(data_format=DATA_FORMAT, name="flatten")(x)
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="fc1")(x)
        residual = layers.Dense(hidden, activation="relu", name="fc2")(x)
        x = layers.Add(name="fc2_add")([x, residual])
    if include_top:
        x = classifier(x, classes, classifier_activation)
    return load_weights(keras.Model(inputs, x, name=name or model), weights)


def MNIST1DLogistic(*args: Any, **kwargs: Any) -> keras.Model:
    """Logistic regression on the raw signal (MNIST-1D paper: 32%; 410 parameters): the MLP
    without hidden layers. Arguments as `MNIST1DMLP` without `hidden`."""
    return MNIST1DMLP(*args, hidden=0, **kwargs)


# (filters, kernel, stride, padding) of the paper's ConvBase: 40 -> 19 -> 10 -> 5 positions.
CNN_LAYERS = ((25, 5, 2, 1), (25, 3, 2, 1), (25, 3, 2, 1))


def MNIST1DCNN(
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = CLASSES,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """The MNIST-1D paper's CNN (94%): three strided convolutions, ReLU, flatten, linear.

    Layers `conv{i}_pad`, `conv{i}_conv` (with bias, as the paper's PyTorch `Conv1d`),
    `conv{i}_relu`; then `flatten`, `predictions`. On 40 points: 5,210 parameters. With the
    top the length must be fixed; without it, `pooling` applies to the last feature map.
    """
    weights = check_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model="cnn_1d",
        structure={},
    )
    inputs, x = signal_input(
        input_tensor, input_shape, min_length=8, model_name="cnn_1d", fixed_length=include_top
    )
    x = with_channels(x)
    for index, (filters, kernel, stride, padding) in enumerate(CNN_LAYERS, start=1):
        x = layers.ZeroPadding1D(padding, data_format=DATA_FORMAT, name=f"conv{index}_pad")(x)
        x = layers.Conv1D(
            filters, kernel, strides=stride, data_format=DATA_FORMAT, name=f"conv{index}_conv"
        )(x)
        x = relu(x, f"conv{index}_relu")
    x = flat_head(
        x,
        include_top=include_top,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )
    return load_weights(keras.Model(inputs, x, name=name or "cnn_1d"), weights)


# --- the ResNet in one dimension ---------------------------------------------------------


def ResNet1D(
    depth: int = 20,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = CLASSES,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    shortcut: str = "A",
    zero_init_residual: bool = False,
    plain: bool = False,
) -> keras.Model:
    """The CIFAR ResNet (paper section 4.2) in one dimension: 6n + 2 layers, 16-32-64 filters.

    Arguments as `ResNetCIFAR`: `depth` any 6n + 2, `shortcut` "A" (default, as the paper's
    CIFAR nets), "B" or "C", `plain=True` for the plain baseline, `zero_init_residual`.
    `input_shape` is `(length,)` or `(length, channels)`, default `(40,)`; the length may be
    None. Registered as `resnet{depth}_1d` and `plain{depth}_1d`.
    """
    from keras_classics.models.resnet import cifar_spec

    spec = cifar_spec(depth)
    model = f"{'plain' if plain else 'resnet'}{depth}_1d"
    weights = check_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=model,
        structure={"shortcut": shortcut},
    )
    check_choice("shortcut", shortcut, SHORTCUTS)
    if plain and zero_init_residual:
        raise ValueError("zero_init_residual=True needs residual blocks; a plain net has none")
    inputs, x = signal_input(input_tensor, input_shape, min_length=4, model_name=model)
    block = partial(
        basic_block,
        shortcut=None if plain else shortcut,
        zero_init_residual=zero_init_residual,
        rank=1,
    )
    allow_graph_depth(10 * sum(spec.repeats))  # at most 10 layers per block
    x = relu(conv_bn(with_channels(x), RESNET1D_WIDTHS[0], 3, name="conv1", rank=1), "conv1_relu")
    x = residual_stages(x, RESNET1D_WIDTHS, spec.repeats, block)
    if include_top:
        x = classifier(global_pool_1d(x, "avg"), classes, classifier_activation)
    else:
        x = global_pool_1d(x, pooling)
    return load_weights(keras.Model(inputs, x, name=name or model), weights)


def ResNet20_1D(*args: Any, **kwargs: Any) -> keras.Model:
    """ResNet-20 in 1D (n = 3): 3 x 3 basic blocks."""
    return ResNet1D(20, *args, **kwargs)


def ResNet56_1D(*args: Any, **kwargs: Any) -> keras.Model:
    """ResNet-56 in 1D (n = 9): 3 x 9 basic blocks."""
    return ResNet1D(56, *args, **kwargs)


_register = partial(
    register_model, family=FAMILY, input_size=SIGNAL_LENGTH, default_classes=10, signals=True
)
_register("logistic_1d", MNIST1DLogistic)
_register("mlp_1d", MNIST1DMLP)
_register("cnn_1d", MNIST1DCNN)
for _depth in RESNET1D_DEPTHS:
    for _plain in (False, True):
        _register(
            f"{'plain' if _plain else 'resnet'}{_depth}_1d",
            partial(ResNet1D, _depth),
            plain=_plain,
        )
