"""Weight decay as the papers applied it: L2 on the weights of convolutions and dense layers.

AlexNet (section 5), VGG (3.1) and ResNet (3.4, 4.2) decay the weights with SGD: each update
adds `lambda * lr * w`. That is the gradient of `lambda / 2 * sum(w ** 2)`, so the penalty
here is a Keras `L2(lambda / 2)` in the loss. Biases and BatchNormalization's gamma and beta
are not decayed (as fb.resnet.torch and the Goyal et al. 2017 recipe; the papers name
"weights").
"""

from __future__ import annotations

import keras

# Attributes of Keras layers that hold the weights of a linear map (Conv*, Dense,
# DepthwiseConv, SeparableConv, EinsumDense).
KERNEL_ATTRIBUTES = ("kernel", "depthwise_kernel", "pointwise_kernel")


def _kernels(model: keras.Model):
    """(layer, attribute, variable) for every trainable kernel of the model's layers."""
    for layer in model._flatten_layers(include_self=False):
        for attribute in KERNEL_ATTRIBUTES:
            variable = getattr(layer, attribute, None)
            if isinstance(variable, keras.Variable) and variable.trainable:
                yield layer, attribute, variable


def decayed_variables(model: keras.Model) -> list[keras.Variable]:
    """The trainable kernels of the model's linear layers: what weight decay applies to."""
    return list({id(v): v for _, _, v in _kernels(model)}.values())


def add_weight_decay(model: keras.Model, weight_decay: float) -> list[str]:
    """Puts `L2(weight_decay / 2)` on every kernel of `model` (built), so that `model.losses`
    carries the papers' weight decay; returns the paths of the decayed variables.

    `weight_decay` is the papers' coefficient (5e-4 for AlexNet and VGG, 1e-4 for ResNet);
    0 leaves the model as it is. The layers' configs record the regularizer too, so a saved
    model keeps it.
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
    if not weight_decay:
        return []
    regularizer = keras.regularizers.L2(weight_decay / 2)
    for layer, attribute, variable in _kernels(model):
        variable.regularizer = regularizer
        if hasattr(layer, f"{attribute}_regularizer"):
            setattr(layer, f"{attribute}_regularizer", regularizer)
    return [variable.path for variable in decayed_variables(model)]
