"""Fine-tuning (`--weights`, `--freeze`, `--freeze-until`): a loaded backbone, a new head.

`--weights` names a preset (`resnet18.tv_in1k`, or "imagenet": the model's default preset), a
`.keras` model (a previous run's `model.keras`) or a backbone `.weights.h5` of `--model` saved
with `include_top=False`. The backbone is loaded, a new classifier (`predictions`,
`predictions_activation`) is built for the dataset's classes, and the run trains with the
weights' normalisation (`weights_record`) unless `--normalization` says otherwise. A `.keras`
model whose class names are the dataset's keeps its head: the second phase of a two-phase
fine-tune (docs/training.md).
"""

from __future__ import annotations

import os
from typing import Any

import keras

from keras_classics.models.common import HEAD_ACTIVATION_LAYER, HEAD_LAYER, classifier
from keras_classics.models.record import model_record, stored_record
from keras_classics.normalization import PreprocessingRecord
from keras_classics.registry import ModelEntry
from keras_classics.weights.presets import default_preset, get_preset

HEAD = (HEAD_LAYER, HEAD_ACTIVATION_LAYER)


def is_file(weights: str) -> bool:
    return weights.endswith((".keras", ".weights.h5"))


def preset_name(weights: str, model: str) -> str:
    """The preset `weights` names ("imagenet": the model's default)."""
    return default_preset(model).name if weights == "imagenet" else get_preset(weights).name


def weights_record(weights: str, model: str) -> PreprocessingRecord | None:
    """The preprocessing record of `weights` (None for a `.weights.h5`, which has none)."""
    if weights.endswith(".keras"):
        return stored_record(weights)
    if weights.endswith(".weights.h5"):
        return None
    return get_preset(preset_name(weights, model)).record


def pretrained_model(
    entry: ModelEntry,
    weights: str,
    *,
    class_names: list[str],
    input_shape: tuple[int | None, ...],
    options: dict[str, Any],
) -> keras.Model:
    """`entry`'s backbone with `weights` loaded and a new head for `class_names` (a `.keras`
    model trained on these very classes keeps its own head); call in scope."""
    if is_file(weights) and not os.path.isfile(weights):
        raise ValueError(f"--weights {weights!r}: no such file")
    if weights.endswith(".keras"):
        loaded = keras.saving.load_model(weights, compile=False)
        for layer in loaded.layers:  # a file saved frozen keeps the flags: --freeze decides
            layer.trainable = True
        record = model_record(loaded)
        if record is not None and record.class_names == tuple(class_names):
            return keras.Model(loaded.input, loaded.output, name=loaded.name)
        features = loaded.get_layer(HEAD[0]).input
        backbone = keras.Model(loaded.input, features, name=loaded.name)
    else:
        from keras_classics.registry import get_model

        name = weights if weights.endswith(".weights.h5") else preset_name(weights, entry.name)
        backbone = get_model(
            entry.name,
            **options,
            weights=name,
            include_top=False,
            pooling="avg",
            input_shape=input_shape,
        )
    outputs = classifier(backbone.output, len(class_names), "softmax")
    return keras.Model(backbone.input, outputs, name=backbone.name)


def freeze(model: keras.Model, until: str | None = None) -> list[str]:
    """Makes the layers up to and including `until` (default: all but the head) untrainable;
    returns their names. Frozen BatchNormalization layers run in inference mode (Keras 3)."""
    names = [layer.name for layer in model.layers]
    if until is None:
        last = names.index(HEAD[0]) - 1
    elif until in names:
        last = names.index(until)
    else:
        some = ", ".join(names[2 : -1 : max(1, len(names) // 6)])
        raise ValueError(
            f"--freeze-until {until!r} is not a layer of {model.name}; its layers run from "
            f"{names[1]!r} to {names[-1]!r} (e.g. {some})"
        )
    for layer in model.layers[: last + 1]:
        layer.trainable = False
    return names[: last + 1]
