"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) and its "one weird trick" form (Krizhevsky 2014).

Layer names (stable) follow the authors' Caffe model: `conv1_pad`, `conv1`, `norm1` (LRN),
`pool1`, `conv2`, `norm2`, `pool2`, `conv3`, `conv4`, `conv5`, `pool5`, (`avgpool`, "owt" only),
`flatten`, `fc6`, `drop6`, `fc7`, `drop7`, and fc8 as `predictions` + `predictions_activation`.
The convolutions and fc6/fc7 apply their ReLU themselves.

Input size. The paper says 224x224 but its arithmetic needs 227 ((227 - 11) / 4 + 1 = 55); Caffe
crops 227. Like torchvision, conv1 here pads by 2 (`conv1_pad`), so the default 224x224 input
gives the paper's maps, 55-27-13-13-13-6. A 227 input gives 56 after conv1 and the same
27-13-13-13-6 afterwards. The fully connected head takes any input whose map before fc6 is 6x6
(inputs of 223 to 254 pixels); "owt" adapts any map to 6x6 (below).
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
    check_builder_args,
    check_choice,
    check_head_input,
    classifier,
    global_pool,
    load_weights,
    model_input,
)
from keras_classics.registry import register_model

FC_UNITS = 4096
DROPOUT_RATE = 0.5
HEAD_MAP_SIZE = 6
MIN_INPUT_SIZE = 63  # the smallest input that leaves pool5 a 1x1 map
# Paper section 5: all weights from N(0, 0.01) (fc8, `predictions`, too); biases 1 in conv2,
# conv4, conv5, fc6 and fc7 (to give the ReLUs positive inputs early on), 0 elsewhere.
WEIGHT_STD = 0.01
UNIT_BIAS_LAYERS = ("conv2", "conv4", "conv5", "fc6", "fc7")


@dataclass(frozen=True)
class AlexNetSpec:
    """Filters of conv1..conv5, which of them are split in two towers, and the extras."""

    filters: tuple[int, int, int, int, int]
    groups: tuple[int, int, int, int, int]
    lrn: bool
    adaptive_pool: bool  # torchvision's AdaptiveAvgPool2d((6, 6)) before the classifier


KERNELS = (11, 5, 3, 3, 3)
VARIANTS: dict[str, AlexNetSpec] = {
    # Two GPUs as one model: conv2, conv4, conv5 see only their own tower's half of the maps.
    "paper": AlexNetSpec((96, 256, 384, 384, 256), (1, 2, 1, 2, 2), lrn=True, adaptive_pool=False),
    "one_tower": AlexNetSpec(
        (96, 256, 384, 384, 256), (1, 1, 1, 1, 1), lrn=True, adaptive_pool=False
    ),
    "owt": AlexNetSpec((64, 192, 384, 256, 256), (1, 1, 1, 1, 1), lrn=False, adaptive_pool=True),
}


def _initializers(name: str) -> dict[str, Any]:
    return {
        "kernel_initializer": keras.initializers.RandomNormal(stddev=WEIGHT_STD),
        "bias_initializer": "ones" if name in UNIT_BIAS_LAYERS else "zeros",
    }


def features(x: Any, spec: AlexNetSpec) -> Any:
    """conv1..conv5 with their ReLUs, LRN after conv1 and conv2, overlapping 3x3/2 max-pools."""
    x = layers.ZeroPadding2D(2, name="conv1_pad")(x)
    for index, (filters, kernel, groups) in enumerate(
        zip(spec.filters, KERNELS, spec.groups, strict=True), start=1
    ):
        name = f"conv{index}"
        x = layers.Conv2D(
            filters,
            kernel,
            strides=4 if index == 1 else 1,
            padding="valid" if index == 1 else "same",
            groups=groups,
            activation="relu",
            name=name,
            **_initializers(name),
        )(x)
        if spec.lrn and index in (1, 2):
            x = LocalResponseNormalization(name=f"norm{index}")(x)
        if index in (1, 2, 5):
            x = layers.MaxPooling2D(3, strides=2, name=f"pool{index}")(x)
    return x


def fully_connected_head(x: Any, classes: int, activation: Any) -> Any:
    """fc6, fc7 (4096, ReLU, dropout 0.5 on their outputs) and fc8 = `predictions`."""
    x = layers.Flatten(name="flatten")(x)
    for index in (6, 7):
        name = f"fc{index}"
        x = layers.Dense(FC_UNITS, activation="relu", name=name, **_initializers(name))(x)
        x = layers.Dropout(DROPOUT_RATE, name=f"drop{index}")(x)
    return classifier(x, classes, activation, **_initializers("fc8"))


def AlexNet(
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor: Any = None,
    input_shape: tuple[int | None, ...] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    *,
    variant: str = "paper",
) -> keras.Model:
    """AlexNet; see the module docstring for the 224/227 input question.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name: as in `keras.applications`.
        variant: "paper" (96-256-384-384-256 filters, conv2/4/5 grouped in two towers, LRN;
            60,965,224 parameters with 1000 classes), "one_tower" (the same without groups;
            62,378,344) or "owt" ("one weird trick", the layout torchvision ships:
            64-192-384-256-256, no LRN, an adaptive average pool to 6x6 before fc6, so the head
            takes any input of at least 63 pixels, pooling as torchvision's AdaptiveAvgPool2d;
            61,100,840).

    All variants use the paper's initialisation and put dropout on the outputs of fc6 and fc7
    (torchvision puts it before fc6 and fc7 instead; the weights are the same).
    """
    check_choice("variant", variant, list(VARIANTS))
    spec = VARIANTS[variant]
    registered = "alexnet" if variant == "paper" else f"alexnet_{variant}"
    name = name or registered
    weights = check_builder_args(
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        model=registered,
        structure={},
    )
    inputs, x = model_input(
        input_tensor,
        input_shape,
        default_size=224 if include_top else None,
        min_size=MIN_INPUT_SIZE,
        model_name=name,
    )
    x = features(x, spec)
    if include_top:
        if spec.adaptive_pool:
            x = layers.AdaptiveAveragePooling2D(HEAD_MAP_SIZE, name="avgpool")(x)
        check_head_input(
            x,
            HEAD_MAP_SIZE,
            model_name=name,
            hint="use inputs of 223 to 254 pixels, variant='owt', or include_top=False",
        )
        x = fully_connected_head(x, classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return load_weights(keras.Model(inputs, x, name=name), weights)


for _variant in VARIANTS:
    register_model(
        "alexnet" if _variant == "paper" else f"alexnet_{_variant}",
        partial(AlexNet, variant=_variant),
        family="alexnet",
        input_size=224,
    )
