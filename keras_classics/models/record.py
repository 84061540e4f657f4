"""A model that carries its preprocessing record, saved with it in `.keras` files.

`attach_record(model, record)` returns the same layers (and weights) as a `RecordedModel`, a
functional model registered as `keras_classics>RecordedModel` whose config holds the record as
plain JSON. `model.save("m.keras")` writes it; `keras.saving.load_model("m.keras")` (also with
`safe_mode=True`: no Lambda, no pickle) gives it back; `model_record(model)` reads it (None for
a model without one); `stored_record(path)` reads it from a `.keras` file alone.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import keras

from keras_classics.normalization import PreprocessingRecord

CONFIG_KEY = "preprocessing"


@keras.saving.register_keras_serializable(package="keras_classics")
class RecordedModel(keras.Model):
    """A functional model with a `preprocessing` record (`PreprocessingRecord`).

    The record is in `get_config()`, so it is saved in the `.keras` file's config.json.
    """

    # The functional signature exactly, so Keras serialises and revives it as a functional model.
    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, **kwargs: Any):
        record = kwargs.pop(CONFIG_KEY, None)
        super().__init__(inputs, outputs, name=name, **kwargs)
        if isinstance(record, dict):
            record = PreprocessingRecord.from_dict(record)
        if record is not None and not isinstance(record, PreprocessingRecord):
            raise ValueError(f"RecordedModel needs a PreprocessingRecord; got {record!r}")
        self.preprocessing = record  # None only where Keras clones the model

    def get_config(self) -> dict[str, Any]:
        record = None if self.preprocessing is None else self.preprocessing.to_dict()
        return {**super().get_config(), CONFIG_KEY: record}


def attach_record(model: keras.Model, record: PreprocessingRecord) -> keras.Model:
    """`model`'s layers and weights as a `RecordedModel` carrying `record` (not a copy).

    A model that already has a record gets the new one in its place.
    """
    if not isinstance(record, PreprocessingRecord):
        raise ValueError(f"record must be a PreprocessingRecord; got {type(record).__name__}")
    return RecordedModel(model.input, model.output, name=model.name, preprocessing=record)


def model_record(model: keras.Model) -> PreprocessingRecord | None:
    """The record `model` carries, or None (a bare builder's model)."""
    record = getattr(model, CONFIG_KEY, None)
    return record if isinstance(record, PreprocessingRecord) else None


def stored_record(path: str | os.PathLike) -> PreprocessingRecord | None:
    """The record a `.keras` file carries, read from its config.json without building the
    model (None for a file of a model without one)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ValueError(f"{os.fspath(path)!r} cannot be read as a .keras file: {error}") from None
    record = config.get("config", {}).get(CONFIG_KEY)
    return None if record is None else PreprocessingRecord.from_dict(record)
