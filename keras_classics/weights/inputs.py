"""keras.applications' `preprocess_input` and `decode_predictions`, driven by the record.

`preprocess_input(x, "resnet50.tv_in1k")` normalises RGB 0-255 images as the preset's weights
expect; `decode_predictions(preds)` names the top classes (ImageNet's, or a record's).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_classics.normalization import PreprocessingRecord
from keras_classics.weights.classes import top_classes

DATA_FORMATS = ("channels_last", "channels_first")


def record_of(preset_or_model: Any) -> PreprocessingRecord:
    """The preprocessing record of a preset (name or `Preset`), a model that carries one, or
    the record itself; a clear ValueError otherwise."""
    from keras_classics.models.record import model_record
    from keras_classics.weights.presets import Preset, get_preset

    if isinstance(preset_or_model, PreprocessingRecord):
        return preset_or_model
    if isinstance(preset_or_model, str):
        return get_preset(preset_or_model).record
    if isinstance(preset_or_model, Preset):
        return preset_or_model.record
    record = model_record(preset_or_model) if isinstance(preset_or_model, keras.Model) else None
    if record is None:
        raise ValueError(
            f"{preset_or_model!r} carries no preprocessing record: pass a preset name "
            "(keras_classics.list_presets()), a model built with pretrained weights or loaded "
            "from a .keras file that has one, or a PreprocessingRecord"
        )
    return record


def preprocess_input(x: Any, preset_or_model: Any, data_format: str | None = None) -> Any:
    """RGB images on the 0-255 scale -> the inputs the preset's (or model's) weights expect.

    As keras.applications' `preprocess_input`: `x` is a batch or one image (NumPy: a float32
    NumPy array comes back; a backend tensor: a tensor), channels last or first as
    `data_format` says (default: `keras.config.image_data_format()`). Only the normalisation
    is applied; resizing and cropping are the evaluation pipeline's
    (`keras_classics.data.evaluation.preprocess_with_record`).
    """
    data_format = data_format or keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format={data_format!r} is not valid; choose one of {DATA_FORMATS}")
    normalization = record_of(preset_or_model).normalizer
    ops = np if isinstance(x, np.ndarray) else keras.ops
    x = ops.asarray(x, dtype="float32") if ops is np else keras.ops.cast(x, "float32")
    if data_format == "channels_first":
        x = ops.moveaxis(normalization.apply(ops.moveaxis(x, -3, -1)), -1, -3)
    else:
        x = normalization.apply(x)
    return x.astype("float32") if ops is np else x  # NumPy promotes to float64


def decode_predictions(
    preds: Any, top: int = 5, preset_or_model: Any = None
) -> list[list[tuple[int, str, float]]]:
    """The `top` classes of each row of `preds` (N, classes), best first: (index, name, score).

    The names are the record's of `preset_or_model` when given, else ImageNet's (1000 classes);
    keras.applications gives the WordNet id where this gives the class index.
    """
    names = None if preset_or_model is None else record_of(preset_or_model).class_names
    if preset_or_model is not None and names is None:
        raise ValueError(f"{preset_or_model!r} has no class names (built without its top)")
    return top_classes(preds, top, names)
