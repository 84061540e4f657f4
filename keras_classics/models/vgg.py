"""VGG (Simonyan & Zisserman 2014, arXiv 1409.1556 v6): configurations A-E of Table 1.

Layer names (stable) follow `keras.applications`: `block{i}_conv{j}` (with `batch_norm`:
`block{i}_conv{j}_bn`, `block{i}_conv{j}_relu`), `block1_lrn` (A-LRN), `block{i}_pool`; head
`flatten`, `fc1`, `fc1_dropout`, `fc2`, `fc2_dropout`, `predictions`, `predictions_activation`.
Dense evaluation keeps the names `fc1`, `fc2`, `predictions` for the convolutions that replace
the fully connected layers and adds `score_pool` (the spatial average of the class scores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Any

import keras
from keras import layers

from keras_classics.layers import LocalResponseNormalization
from keras_classics.models.common import (
    BN_EPSILON,
    BN_MOMENTUM,
    HEAD_ACTIVATION_LAYER,
    HEAD_LAYER,
    channel_axis,
    check_builder_args,
    check_choice,
    check_head_input,
    classifier,
    global_pool,
    image_shape,
    load_weights,
    model_input,
    named_variant,
    output_activation,
)
from keras_classics.registry import register_model

FC_UNITS = 4096
DROPOUT_RATE = 0.5
HEAD_MAP_SIZE = 7  # 224 / 2**5: the map the first fully connected layer was sized for


def c3(filters: int, repeats: int = 1) -> tuple[tuple[int, int], ...]:
    """`repeats` 3x3 convolutions of `filters`, as (kernel size, filters) pairs."""
    return ((3, filters),) * repeats


@dataclass(frozen=True)
class VGGSpec:
    """One column of paper Table 1: per stage, the (kernel size, filters) of each conv."""

    name: str
    stages: tuple[tuple[tuple[int, int], ...], ...]
    lrn: bool = False  # LRN after the first convolution (A-LRN)


_A = (c3(64), c3(128), c3(256, 2), c3(512, 2), c3(512, 2))
VGG_SPECS: dict[str, VGGSpec] = {
    "A": VGGSpec("vgg11", _A),
    "A-LRN": VGGSpec("vgg11_lrn", _A, lrn=True),
    "B": VGGSpec("vgg13", (c3(64, 2), c3(128, 2), c3(256, 2), c3(512, 2), c3(512, 2))),
    "C": VGGSpec(
        "vgg16c",
        (
            c3(64, 2),
            c3(128, 2),
            (*c3(256, 2), (1, 256)),
            (*c3(512, 2), (1, 512)),
            (*c3(512, 2), (1, 512)),
        ),
    ),
    "D": VGGSpec("vgg16", (c3(64, 2), c3(128, 2), c3(256, 3), c3(512, 3), c3(512, 3))),
    "E": VGGSpec("vgg19", (c3(64, 2), c3(128, 2), c3(256, 4), c3(512, 4), c3(512, 4))),
}


def conv_relu(x: Any, kernel_size: int, filters: int, *, batch_norm: bool, name: str) -> Any:
    """Stride-1 "same" convolution + ReLU; with `batch_norm`, bias-free conv + BN + ReLU."""
    if not batch_norm:
        return layers.Conv2D(filters, kernel_size, padding="same", activation="relu", name=name)(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(
        axis=channel_axis(), momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn"
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def features(x: Any, spec: VGGSpec, *, batch_norm: bool) -> Any:
    """The five convolutional stages, each closed by a 2x2/2 max-pool."""
    for stage, convs in enumerate(spec.stages, start=1):
        for index, (kernel_size, filters) in enumerate(convs, start=1):
            name = f"block{stage}_conv{index}"
            x = conv_relu(x, kernel_size, filters, batch_norm=batch_norm, name=name)
            if spec.lrn and name == "block1_conv1":
                x = LocalResponseNormalization(name="block1_lrn")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
    return x


def fully_connected_head(x: Any, classes: int, activation: Any) -> Any:
    """FC-4096, dropout 0.5, FC-4096, dropout 0.5, FC-classes (paper section 2.1)."""
    x = layers.Flatten(name="flatten")(x)
    for index in (1, 2):
        x = layers.Dense(FC_UNITS, activation="relu", name=f"fc{index}")(x)
        x = layers.Dropout(DROPOUT_RATE, name=f"fc{index}_dropout")(x)
    return classifier(x, classes, activation)


def dense_evaluation_head(x: Any, classes: int, activation: Any) -> Any:
    """The fully connected layers as 7x7 and 1x1 convolutions, class scores averaged.

    Paper section 3.2: "the first FC layer is converted to a 7x7 conv. layer, the last two FC
    layers to 1x1 conv. layers ... the class score map is spatially averaged". The scores
    (logits) are averaged, then `activation` is applied, so at 224x224 (a 1x1 score map) the
    output equals the fully connected head's.
    """
    x = layers.Conv2D(FC_UNITS, HEAD_MAP_SIZE, activation="relu", name="fc1")(x)
    x = layers.Dropout(DROPOUT_RATE, name="fc1_dropout")(x)
    x = layers.Conv2D(FC_UNITS, 1, activation="relu", name="fc2")(x)
    x = layers.Dropout(DROPOUT_RATE, name="fc2_dropout")(x)
    x = layers.Conv2D(classes, 1, name=HEAD_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="score_pool")(x)
    return output_activation(x, activation)


def VGG(
    config: str = "D",
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int | None, ...] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    batch_norm: bool = False,
    dense_evaluation: bool = False,
) -> keras.Model:
    """VGG of paper Table 1.

    Args:
        config: "A" (VGG-11), "A-LRN", "B" (VGG-13), "C" (VGG-16 with 1x1 convolutions as the
            last conv of stages 3-5), "D" (VGG-16) or "E" (VGG-19).
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as in `keras.applications`. The fully connected head
            needs a 7x7 map before `flatten`, i.e. inputs of 224 to 255 pixels.
        batch_norm: BN after every convolution (torchvision's `vgg*_bn`); those convolutions
            carry no bias.
        dense_evaluation: the head of paper section 3.2 (fully connected layers as 7x7 and 1x1
            convolutions, class scores averaged over the map); the model then takes any input
            of at least 224 and defaults to `input_shape=(None, None, 3)`. Use
            `to_dense_evaluation(model)` to turn a trained model into this form.
    """
    check_choice("config", config, list(VGG_SPECS))
    spec = VGG_SPECS[config]
    name = name or spec.name + ("_bn" if batch_norm else "")
    weights = check_builder_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=spec.name + ("_bn" if batch_norm else ""),
        structure={"dense_evaluation": dense_evaluation},
    )
    if dense_evaluation and not include_top:
        raise ValueError("dense_evaluation=True replaces the top; it needs include_top=True")
    if dense_evaluation and input_shape is None and input_tensor is None:
        input_shape = image_shape(None, None, 3)
    inputs, x = model_input(
        input_tensor,
        input_shape,
        default_size=224 if include_top else None,
        min_size=32 * HEAD_MAP_SIZE if dense_evaluation else 32,
        model_name=name,
    )
    x = features(x, spec, batch_norm=batch_norm)
    if dense_evaluation:
        x = dense_evaluation_head(x, classes, classifier_activation)
    elif include_top:
        check_head_input(
            x,
            HEAD_MAP_SIZE,
            model_name=name,
            hint="use 224x224 inputs, dense_evaluation=True, or include_top=False",
        )
        x = fully_connected_head(x, classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return load_weights(keras.Model(inputs, x, name=name), weights)


def to_dense_evaluation(model: keras.Model) -> keras.Model:
    """The same VGG for dense evaluation at any input size of at least 224 (paper section 3.2).

    `model` is a VGG built by this package (a chain of layers) with its fully connected head.
    The convolutional layers are shared with `model` (the same layer objects, so the same
    weights); `fc1`, `fc2` and `predictions` become 7x7, 1x1 and 1x1 convolutions whose kernels
    are copies of `model`'s dense kernels, reshaped (Keras's Flatten orders features height,
    width, channel in both data formats, which is the convolution kernel's order). Because the
    trunk's layers are called by both models, `layer.output` refers to `model`'s graph; in the
    dense model, the trunk's output is `dense.get_layer("fc1").input`.
    """
    try:
        flatten = model.get_layer("flatten")
        activation = model.get_layer(HEAD_ACTIVATION_LAYER).activation
    except ValueError:
        raise ValueError(
            f"model {model.name!r} has no fully connected head: build it with include_top=True "
            "and dense_evaluation=False"
        ) from None
    data_format = model.get_layer("block1_conv1").data_format
    if data_format != keras.config.image_data_format():
        raise ValueError(
            f"model {model.name!r} is {data_format}; call keras.config.set_image_data_format"
            f"({data_format!r}) before converting it"
        )
    channels = model.input_shape[channel_axis()]
    inputs = keras.Input(image_shape(None, None, channels))
    x = inputs
    for layer in model.layers[1 : model.layers.index(flatten)]:
        x = layer(x)
    classes = model.get_layer(HEAD_LAYER).units
    dense = keras.Model(inputs, dense_evaluation_head(x, classes, activation), name=model.name)
    for layer_name in ("fc1", "fc2", HEAD_LAYER):
        kernel, bias = model.get_layer(layer_name).get_weights()
        target = dense.get_layer(layer_name)
        target.set_weights([kernel.reshape(target.kernel.shape), bias])
    return dense


# --- named variants -------------------------------------------------------------------

VGG11 = named_variant(
    VGG, "A", "VGG11", "VGG configuration A (11 layers): 132,863,336 parameters with 1000 classes."
)
VGG11_LRN = named_variant(
    VGG,
    "A-LRN",
    "VGG11_LRN",
    "VGG configuration A-LRN: A with LRN after the first convolution; 132,863,336 parameters.",
)
VGG13 = named_variant(
    VGG, "B", "VGG13", "VGG configuration B (13 layers): 133,047,848 parameters with 1000 classes."
)
VGG16C = named_variant(
    VGG,
    "C",
    "VGG16C",
    "VGG configuration C (16 layers, 1x1 convolutions in stages 3-5): 133,638,952 parameters.",
)
VGG16 = named_variant(
    VGG, "D", "VGG16", "VGG configuration D (16 layers): 138,357,544 parameters with 1000 classes."
)
VGG19 = named_variant(
    VGG, "E", "VGG19", "VGG configuration E (19 layers): 143,667,240 parameters with 1000 classes."
)


for _config, _spec in VGG_SPECS.items():
    register_model(_spec.name, partial(VGG, _config), family="vgg", input_size=224)
    if not _spec.lrn:
        register_model(
            f"{_spec.name}_bn",
            partial(VGG, _config),
            family="vgg",
            input_size=224,
            batch_norm=True,
        )
