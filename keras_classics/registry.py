"""Model names -> builders: what scripts take as `--model` and what the tests iterate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder, the arguments it is called with, and its data.

    `input_size` is the side of the square RGB images the model takes, or the length of the
    signals (`[batch, length]`) for a model that takes signals (`signals`).
    """

    name: str
    builder: Callable[..., keras.Model]
    family: str
    input_size: int
    default_classes: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    signals: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The default input shape without the batch axis: `(length,)` or `(size, size, 3)`."""
        if self.signals:
            return (self.input_size,)
        return (self.input_size, self.input_size, 3)

    def build(self, **overrides: Any) -> keras.Model:
        """Builds the model; `overrides` take precedence over the entry's own arguments."""
        return self.builder(**{**self.kwargs, **overrides})


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    builder: Callable[..., keras.Model],
    *,
    family: str,
    input_size: int,
    default_classes: int = 1000,
    signals: bool = False,
    **kwargs: Any,
) -> None:
    """Registers `builder` (called with `kwargs`) under the lower-case `name`; `signals`:
    it takes 1D signals of length `input_size` instead of square images."""
    if name != name.lower() or name in _REGISTRY:
        raise ValueError(f"model name {name!r} must be lower case and registered only once")
    _REGISTRY[name] = ModelEntry(
        name, builder, family, input_size, default_classes, kwargs, signals
    )


def list_models(family: str | None = None) -> list[str]:
    """Names of the registered models, optionally of one family ("resnet", "resnet_cifar")."""
    families = sorted({entry.family for entry in _REGISTRY.values()})
    if family is not None and family not in families:
        raise ValueError(f"unknown family {family!r}; choose one of {families}")
    return [name for name, entry in _REGISTRY.items() if family in (None, entry.family)]


def get_entry(name: str) -> ModelEntry:
    """The registry entry of `name` (case-insensitive); a clear error lists the valid names."""
    entry = _REGISTRY.get(name.lower())
    if entry is None:
        raise ValueError(f"unknown model {name!r}; choose one of {list_models()}")
    return entry


def get_model(name: str, **kwargs: Any) -> keras.Model:
    """Builds the registered model `name`, passing `kwargs` to its builder.

    `name` may be a preset, `<model>.<tag>` (`keras_classics.list_presets()`): its model with
    the builder options and the weights it names. `weights` may name a preset of `name` too;
    its builder options are then applied. `kwargs` take precedence over a preset's options.
    Examples: `get_model("resnet34", shortcut="A", classes=10)`,
    `get_model("resnet50.tv_in1k")`, `get_model("resnet50", weights="resnet50.tv_in1k",
    include_top=False)`.
    """
    from keras_classics.weights.presets import PRESETS, get_preset

    if "." in name:
        preset = get_preset(name)
        name, kwargs = preset.model, {"weights": preset.name, **kwargs}
    weights = kwargs.get("weights")
    if isinstance(weights, str) and weights.lower() in PRESETS:
        kwargs = {**PRESETS[weights.lower()].options, **kwargs}
    return get_entry(name).build(**kwargs)
