"""Parameters and multiply-adds of a Keras model, counted as the papers count them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import keras

CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


@dataclass(frozen=True)
class LayerProfile:
    """One layer that holds parameters or does multiply-adds."""

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    params: int
    macs: int | None  # None where the input size is unknown


@dataclass(frozen=True)
class ModelProfile:
    """Parameter counts and multiply-adds per image of a whole model."""

    name: str
    trainable_params: int
    non_trainable_params: int
    macs: int | None  # None for a model built for any input size
    layers: tuple[LayerProfile, ...]

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def table(self, max_rows: int | None = None) -> str:
        """A text table of the layers with parameters or multiply-adds, then the totals."""
        rows = self.layers if max_rows is None else self.layers[:max_rows]
        header = f"{'layer':<28} {'type':<20} {'output shape':<20} {'params':>12} {'mult-adds':>15}"
        lines = [header]
        lines.append("-" * len(lines[0]))
        for row in rows:
            shape = "x".join("?" if d is None else str(d) for d in row.output_shape)
            macs = "?" if row.macs is None else f"{row.macs:,}"
            lines.append(f"{row.name:<28} {row.kind:<20} {shape:<20} {row.params:>12,} {macs:>15}")
        if len(rows) < len(self.layers):
            lines.append(f"... {len(self.layers) - len(rows)} more layers")
        lines.append("-" * len(lines[0]))
        lines.append(
            f"{self.name}: {self.trainable_params:,} trainable + {self.non_trainable_params:,} "
            f"non-trainable = {self.total_params:,} parameters; "
            + (
                "multiply-adds need a fixed input size"
                if self.macs is None
                else f"{self.macs / 1e9:.3f} G multiply-adds per image"
            )
        )
        return "\n".join(lines)


def _leaf_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _spatial(layer: keras.layers.Layer, shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return tuple(shape[2:])
    return tuple(shape[1:-1])


def layer_macs(layer: keras.layers.Layer) -> int | None:
    """Multiply-adds per image of one convolution or dense layer (0 for other layers).

    Convolution: output positions x kernel size (kh * kw * C_in / groups * C_out); dense:
    positions x C_in * C_out. Batch normalisation, activations, pooling and additions are not
    counted, as in the papers' figures (ResNet Table 1, VGG's FLOPs). None where the layer's
    output size is unknown (a model built with `input_shape=(None, None, 3)`).
    """
    if not isinstance(layer, (*CONV_TYPES, keras.layers.Dense)):
        return 0
    positions_shape = (
        _spatial(layer, layer.output.shape)
        if isinstance(layer, CONV_TYPES)
        else tuple(layer.output.shape[1:-1])
    )
    if any(d is None for d in positions_shape):
        return None
    return math.prod(positions_shape) * math.prod(layer.kernel.shape)


def _count(weights: list[keras.Variable]) -> int:
    return sum(math.prod(w.shape) for w in weights)


def profile(model: keras.Model) -> ModelProfile:
    """Counts trainable / non-trainable parameters and multiply-adds per image of `model`."""
    rows = []
    for layer in _leaf_layers(model):
        params, macs = _count(layer.weights), layer_macs(layer)
        if params or macs != 0:
            shape = tuple(layer.output.shape[1:])
            rows.append(LayerProfile(layer.name, type(layer).__name__, shape, params, macs))
    return ModelProfile(
        name=model.name,
        trainable_params=_count(model.trainable_weights),
        non_trainable_params=_count(model.non_trainable_weights),
        macs=None if any(row.macs is None for row in rows) else sum(row.macs for row in rows),
        layers=tuple(rows),
    )


def count_macs(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one image through `model`."""
    macs = profile(model).macs
    if macs is None:
        raise ValueError(
            f"model {model.name!r} takes inputs of any size ({model.input_shape}): multiply-adds "
            "need a fixed input size; build it with a concrete input_shape, e.g. (224, 224, 3)"
        )
    return macs
