"""Copy `keras.applications` ResNet50/101/152 weights into keras_classics ResNets.

keras.applications' ResNets (v1, the stride on the first 1x1) use the same layer names as ours
but put a bias in every convolution before BatchNormalization, and BN epsilon 1.001e-5. Both are
folded away exactly: BN computes gamma * (conv + b - mean) / sqrt(var + eps) + beta, so our BN
takes mean - b and var + eps_source - eps_ours.
"""

from __future__ import annotations

import keras
import numpy as np

ResNetLayer = keras.layers.Conv2D | keras.layers.BatchNormalization | keras.layers.Dense


def _source_layer(source: keras.Model, name: str) -> keras.layers.Layer:
    try:
        return source.get_layer(name)
    except ValueError:
        raise ValueError(
            f"source model {source.name!r} has no layer {name!r}; is it a keras.applications "
            "ResNet of the same depth, built with the same include_top?"
        ) from None


def _check_same(target: keras.layers.Layer, source: keras.layers.Layer, attribute: str) -> None:
    if getattr(target, attribute) != getattr(source, attribute):
        raise ValueError(
            f"layer {target.name!r}: {attribute} {getattr(target, attribute)} here but "
            f"{getattr(source, attribute)} in the source; keras.applications ResNets are v1, "
            "build the target with stride_in_1x1=True"
        )


def _check_shapes(target: keras.layers.Layer, values: list[np.ndarray]) -> None:
    expected = [tuple(w.shape) for w in target.weights]
    received = [tuple(v.shape) for v in values]
    if expected != received:
        raise ValueError(
            f"layer {target.name!r}: weight shapes {expected} here but {received} in the source "
            "(check depth and classes)"
        )


def load_keras_applications_resnet(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copies every weight of `source` (keras.applications ResNet) into `target` (ours).

    `target` must be the same depth with `stride_in_1x1=True` and shortcut "B" (keras.applications'
    layout). Its layers are matched by name; conv biases are folded into the following BN.
    Raises ValueError naming the first layer that does not match; nothing is assigned then.
    """
    assignments: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []
    conv_biases: dict[str, np.ndarray] = {}
    for layer in target.layers:
        if not isinstance(layer, ResNetLayer):
            continue
        source_layer = _source_layer(source, layer.name)
        values = [np.asarray(v) for v in source_layer.get_weights()]
        if isinstance(layer, keras.layers.Conv2D):
            _check_same(layer, source_layer, "strides")
            kernel, bias = values if len(values) == 2 else (values[0], 0.0)
            conv_biases[layer.name.removesuffix("_conv")] = bias
            values = [kernel]
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = values
            bias = conv_biases.get(layer.name.removesuffix("_bn"), 0.0)
            variance = np.maximum(variance + source_layer.epsilon - layer.epsilon, 0.0)
            values = [gamma, beta, mean - bias, variance]
        _check_shapes(layer, values)
        assignments.append((layer, values))
    used = {layer.name for layer, _ in assignments}
    unused = [layer.name for layer in source.layers if layer.weights and layer.name not in used]
    if unused:
        raise ValueError(
            f"source layer {unused[0]!r} (and {len(unused) - 1} more) has no counterpart in "
            f"{target.name!r}; keras.applications ResNets use shortcut option B"
        )
    for layer, values in assignments:
        layer.set_weights(values)
    return target
