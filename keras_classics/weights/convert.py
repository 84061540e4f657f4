"""The converters by name, and converting a checkpoint file into a model."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import keras

from keras_classics.weights.files import KERAS_H5_SUFFIXES, STATE_DICT_SUFFIXES
from keras_classics.weights.keras_applications import load_keras_applications
from keras_classics.weights.torchvision import load_torchvision

CONVERTERS: dict[str, Callable[[Any, keras.Model], keras.Model]] = {
    "torchvision": load_torchvision,
    "keras_applications": load_keras_applications,
}
SUFFIX_CONVERTERS = {
    **dict.fromkeys(STATE_DICT_SUFFIXES, "torchvision"),
    **dict.fromkeys(KERAS_H5_SUFFIXES, "keras_applications"),
}


def converter_for(path: str | os.PathLike, source: str | None = None) -> str:
    """The converter's name: `source` if given, else inferred from the file's suffix."""
    if source is not None:
        if source not in CONVERTERS:
            raise ValueError(f"unknown source {source!r}; choose one of {list(CONVERTERS)}")
        return source
    for suffix, name in SUFFIX_CONVERTERS.items():
        if os.fspath(path).endswith(suffix):
            return name
    raise ValueError(
        f"cannot tell the source of {os.fspath(path)!r} from its suffix; name it "
        f"({list(CONVERTERS)}) or use one of {list(SUFFIX_CONVERTERS)}"
    )


def convert_file(
    path: str | os.PathLike, target: keras.Model, source: str | None = None
) -> keras.Model:
    """Loads the checkpoint at `path` into `target` with the converter of `source` (or suffix)."""
    return CONVERTERS[converter_for(path, source)](path, target)
