"""keras.applications ResNet50/101/152 and VGG16/19 weights -> keras_classics models.

keras.applications uses our layer names (ours follow it). Its VGGs load as they are. Its ResNets
(v1: the stride on the first 1x1) put a bias in every convolution before BatchNormalization and
use BN epsilon 1.001e-5: both fold away exactly (see `transfer`): our BN takes mean - b and
var + 1.001e-5 - 1e-5. The source is a keras.applications model, its published `.h5` weights
file (read without building the model), or a {layer name: weights} mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from keras_classics.weights.files import read_keras_h5, to_numpy
from keras_classics.weights.transfer import (
    HEAD_LAYERS,
    LayerValues,
    assign_all,
    check_all_used,
    check_shapes,
    check_strided_bottleneck,
    conv_stem,
    fold_batch_norm,
    has_top,
    layers_to_load,
)

SOURCE = "keras.applications"
BN_EPSILON = 1.001e-5  # keras.applications ResNet's BatchNormalization epsilon
HINT = (
    "keras.applications has VGG16/19 and ResNet50/101/152 v1 (shortcut option B): build the "
    "target with stride_in_1x1=True"
)
KerasSource = keras.Model | str | os.PathLike | Mapping[str, Sequence[np.ndarray]]


def _source_weights(source: KerasSource) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    """{layer: weights} and {BN layer: epsilon} of a model, an .h5 file or a mapping."""
    if isinstance(source, keras.Model):
        weights = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
        epsilons = {
            layer.name: layer.epsilon
            for layer in source.layers
            if isinstance(layer, keras.layers.BatchNormalization)
        }
        return weights, epsilons
    if isinstance(source, Mapping):
        return {name: [to_numpy(v) for v in values] for name, values in source.items()}, {}
    return read_keras_h5(source), {}


def load_keras_applications(source: KerasSource, target: keras.Model) -> keras.Model:
    """Copies keras.applications weights into `target` (ours) by layer name; returns it.

    `target` is our VGG16/VGG19 (no BN) or ResNet50/101/152 with `stride_in_1x1=True` and
    shortcut "B". A source with a classifier loads into a target without one (the classifier is
    skipped). Raises ValueError naming the first layer that does not match; nothing is assigned
    then.
    """
    weights, epsilons = _source_weights(source)
    check_strided_bottleneck(target, "1", SOURCE, HINT)
    assignments: list[LayerValues] = []
    conv_biases: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for layer in layers_to_load(target, weights, SOURCE, HINT):
        used.add(layer.name)
        values = list(weights[layer.name])
        if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias and len(values) == 2:
            conv_biases[conv_stem(layer.name)] = values.pop()
        elif isinstance(layer, keras.layers.BatchNormalization) and len(values) == 4:
            values = fold_batch_norm(
                layer,
                *values,
                conv_bias=conv_biases.pop(conv_stem(layer.name), 0.0),
                source_epsilon=epsilons.get(layer.name, BN_EPSILON),
            )
        check_shapes(layer, values, SOURCE)
        assignments.append((layer, values))
    skipped = () if has_top(target) else HEAD_LAYERS
    check_all_used([n for n in weights if n not in skipped], used, target, HINT)
    return assign_all(target, assignments)


def load_keras_applications_resnet(source: KerasSource, target: keras.Model) -> keras.Model:
    """`load_keras_applications` for ResNets (the name this function had first)."""
    return load_keras_applications(source, target)
