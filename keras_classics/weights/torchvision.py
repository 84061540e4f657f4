"""torchvision state dicts -> keras_classics AlexNet ("owt"), VGG-11..19 (+BN) and ResNet-18..152.

The tables below map our layer names (docs/models.md, "Layer names") to torchvision's module names;
`torchvision_modules(target)` applies them to a target model. Tensors are converted as:
- Conv2d weight (O, I, kh, kw) -> Keras kernel (kh, kw, I, O); bias as is;
- Linear weight (out, in) -> kernel (in, out); the first Linear after torchvision's
  `torch.flatten` reads a (C, H, W) map, our Flatten an (H, W, C) one: its rows are permuted
  (`flattened_kernel`);
- BatchNorm2d weight, bias, running_mean, running_var -> gamma, beta, moving mean, moving
  variance (torchvision's eps 1e-5 is ours); `num_batches_tracked` is a counter, not a weight;
- VGG with BN: torchvision's convolutions keep a bias, ours have none: it is folded into BN's
  moving mean (mean - b), which is exact.
torchvision's ResNet-50/101/152 are "v1.5" (stride on the 3x3): build the target with
`stride_in_1x1=False`. Every source tensor must be used and every target weight assigned
(`include_top=False` targets skip the classifier's tensors); shapes are checked before anything
is set.
"""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from keras_classics.weights.files import read_state_dict
from keras_classics.weights.transfer import (
    HEAD_LAYERS,
    LayerValues,
    assign_all,
    check_all_used,
    check_shapes,
    check_strided_bottleneck,
    conv_stem,
    flatten_map_shape,
    flattened_kernel,
    fold_batch_norm,
    has_top,
    layers_to_load,
    transposed,
)

SOURCE = "torchvision's models"
BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d's default, which torchvision's models keep
# Our layer -> torchvision module. AlexNet: `features` / `classifier` Sequential indices.
ALEXNET_MODULES = {
    "conv1": "features.0",
    "conv2": "features.3",
    "conv3": "features.6",
    "conv4": "features.8",
    "conv5": "features.10",
    "fc6": "classifier.1",
    "fc7": "classifier.4",
    "predictions": "classifier.6",
}
# VGG: the head; the convolutions follow torchvision's `features` numbering (vgg_modules).
VGG_HEAD_MODULES = {"fc1": "classifier.0", "fc2": "classifier.3", "predictions": "classifier.6"}
# ResNet: stem and head; block j of stage i (conv{i}_block{j}) is torchvision's
# layer{i-1}.{j-1}, whose modules are named by RESNET_BLOCK_MODULES.
RESNET_MODULES = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc"}
RESNET_BLOCK_MODULES = {
    "1_conv": "conv1",
    "1_bn": "bn1",
    "2_conv": "conv2",
    "2_bn": "bn2",
    "3_conv": "conv3",
    "3_bn": "bn3",
    "0_conv": "downsample.0",
    "0_bn": "downsample.1",
}
RESNET_BLOCK_LAYER = re.compile(r"conv(\d)_block(\d+)_(\d_(?:conv|bn))")
# The Dense layer that reads the flattened map, per family.
FLATTENED_DENSE = {"alexnet": "fc6", "vgg": "fc1"}
# A layer that tells the family of a target model.
FAMILY_MARKERS = {"alexnet": "conv5", "vgg": "block1_conv1", "resnet": "conv1_conv"}
# What torchvision has, per family, for the error messages.
HINTS = {
    "alexnet": "torchvision's AlexNet is AlexNet(variant='owt')",
    "vgg": "torchvision has VGG11, VGG13, VGG16 and VGG19, with or without batch_norm",
    "resnet": "torchvision's ResNets use shortcut option B; ResNet-50/101/152 are v1.5: build "
    "the target with stride_in_1x1=False",
}


def import_torchvision() -> types.ModuleType:
    """Imports torchvision's model definitions, also where its compiled ops cannot load.

    The CPU build of torch with the registry's torchvision fails at import ("operator
    torchvision::nms does not exist": its ops target the CUDA build). The models need none of
    those ops, so an empty `torchvision._meta_registrations` module is put in place first.
    Raises ImportError when torch or torchvision is not installed.
    """
    name = "torchvision._meta_registrations"
    if "torchvision" not in sys.modules:
        sys.modules.setdefault(name, types.ModuleType(name))
    import torchvision

    return torchvision


def target_family(target: keras.Model) -> str:
    """The family of `target` ("alexnet", "vgg" or "resnet"), from its layer names."""
    names = {layer.name for layer in target.layers}
    for family, marker in FAMILY_MARKERS.items():
        if marker in names:
            return family
    raise ValueError(
        f"model {target.name!r} is not a keras_classics AlexNet, VGG or ResNet (it has none "
        f"of the layers {list(FAMILY_MARKERS.values())})"
    )


def vgg_modules(target: keras.Model) -> dict[str, str]:
    """Our VGG convolutions and BNs -> torchvision's `features.{i}`.

    torchvision numbers every module of `features`: each conv, BN, ReLU and max-pool counts
    one. Our convolutions without BN apply their ReLU themselves, so they count two.
    """
    modules, index = {}, 0
    for layer in target.layers:
        if layer.name == "flatten" or not layer.name.startswith("block"):
            continue
        if isinstance(layer, keras.layers.Conv2D | keras.layers.BatchNormalization):
            modules[layer.name] = f"features.{index}"
        fused_relu = getattr(layer, "activation", None) is keras.activations.relu
        index += 1 + (isinstance(layer, keras.layers.Conv2D) and fused_relu)
    return modules


def torchvision_modules(target: keras.Model) -> dict[str, str]:
    """Our layer name -> torchvision module name, for every layer of `target` with weights."""
    family = target_family(target)
    if family == "alexnet":
        return dict(ALEXNET_MODULES)
    if family == "vgg":
        return {**vgg_modules(target), **VGG_HEAD_MODULES}
    modules = dict(RESNET_MODULES)
    for layer in target.layers:
        match = RESNET_BLOCK_LAYER.fullmatch(layer.name)
        if match and match[3] in RESNET_BLOCK_MODULES:
            stage, block = int(match[1]) - 1, int(match[2]) - 1
            modules[layer.name] = f"layer{stage}.{block}.{RESNET_BLOCK_MODULES[match[3]]}"
    return modules


class _Source:
    """A state dict that records which tensors were taken."""

    def __init__(self, state: dict[str, np.ndarray]):
        self.state, self.used = state, set()

    def take(self, layer: keras.layers.Layer, key: str) -> np.ndarray:
        if key not in self.state:
            raise ValueError(
                f"layer {layer.name!r} needs the tensor {key!r}, which the state dict does not "
                "have (is it torchvision's model of the same architecture and depth?)"
            )
        self.used.add(key)
        return self.state[key]

    def optional(self, key: str) -> np.ndarray | None:
        if key in self.state:
            self.used.add(key)
            return self.state[key]
        return None


def keras_kernel(layer: keras.layers.Layer, weight: np.ndarray) -> np.ndarray:
    """A Conv2d weight (O, I, kh, kw) -> (kh, kw, I, O), a Linear weight (O, I) -> (I, O).

    Made as a tiled 2-D transpose of (O, I*kh*kw), then whole rows of O values moved.
    """
    expected = 4 if isinstance(layer, keras.layers.Conv2D) else 2
    if weight.ndim != expected:
        raise ValueError(
            f"layer {layer.name!r} needs a {expected}-D source tensor; got shape {weight.shape}"
        )
    out = weight.shape[0]
    rows = transposed(weight.reshape(out, -1)).reshape(*weight.shape[1:], out)
    return np.ascontiguousarray(rows.transpose(1, 2, 0, 3)) if expected == 4 else rows


def _layer_values(
    layer: keras.layers.Layer,
    module: str,
    source: _Source,
    folded: dict[str, np.ndarray],
    target: keras.Model,
    family: str,
) -> list[np.ndarray]:
    take = lambda name: source.take(layer, f"{module}.{name}")  # noqa: E731
    if isinstance(layer, keras.layers.Conv2D):
        kernel = keras_kernel(layer, take("weight"))
        bias = source.optional(f"{module}.bias")
        if layer.use_bias:
            return [kernel, take("bias")]
        if bias is not None:
            folded[conv_stem(layer.name)] = bias
        return [kernel]
    if isinstance(layer, keras.layers.BatchNormalization):
        source.optional(f"{module}.num_batches_tracked")
        values = [take(name) for name in ("weight", "bias", "running_mean", "running_var")]
        bias = folded.pop(conv_stem(layer.name), 0.0)
        return fold_batch_norm(layer, *values, conv_bias=bias, source_epsilon=BN_EPSILON)
    if isinstance(layer, keras.layers.Dense):
        weight = take("weight")
        if layer.name == FLATTENED_DENSE.get(family) and weight.ndim == 2:
            kernel = flattened_kernel(weight, layer, flatten_map_shape(target))
        else:
            kernel = keras_kernel(layer, weight)
        return [kernel, take("bias")]
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no torchvision converter")


def load_torchvision(
    source: str | os.PathLike | Mapping[str, Any], target: keras.Model
) -> keras.Model:
    """Loads a torchvision state dict (file or mapping) into `target`, strictly; returns it.

    `target` is a keras_classics `AlexNet(variant="owt")`, VGG-11/13/16/19 (with or without
    `batch_norm`) or ResNet-18/34/50/101/152 (50+ with `stride_in_1x1=False`), with the
    source's classes or `include_top=False`. Raises ValueError naming the first mismatching
    layer or tensor; nothing is assigned then.
    """
    state = _Source(read_state_dict(source))
    family = target_family(target)
    modules = torchvision_modules(target)
    hint = HINTS[family]
    if family == "resnet":
        check_strided_bottleneck(target, "2", SOURCE, hint)
    assignments: list[LayerValues] = []
    folded: dict[str, np.ndarray] = {}
    for layer in layers_to_load(target, modules, SOURCE, hint):
        values = _layer_values(layer, modules[layer.name], state, folded, target, family)
        check_shapes(layer, values, "the state dict")
        assignments.append((layer, values))
    if folded:
        raise ValueError(f"convolution {next(iter(folded))!r} has a bias but no BN to fold it in")
    head = tuple(f"{modules[n]}." for n in HEAD_LAYERS if n in modules and not has_top(target))
    expected = [
        key
        for key in state.state
        if not key.endswith("num_batches_tracked") and not key.startswith(head)
    ]
    check_all_used(expected, state.used, target, hint)
    return assign_all(target, assignments)
