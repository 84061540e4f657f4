"""Class names of an export: the default, reading them from a file, checking them."""

from __future__ import annotations

import os
from collections.abc import Sequence


def default_class_names(classes: int) -> list[str]:
    """The names an export uses when none are given: the bundled ImageNet class names for
    1000 classes, else "0", "1", ... (the class indices). The one place that decides it."""
    if classes == 1000:
        from keras_classics.weights.classes import imagenet_class_names

        return list(imagenet_class_names())
    return [str(i) for i in range(classes)]


def read_class_names(path: str | os.PathLike) -> list[str]:
    """One class name per line (UTF-8); surrounding whitespace and trailing empty lines dropped."""
    with open(path, encoding="utf-8") as file:
        names = [line.strip() for line in file.read().splitlines()]
    while names and not names[-1]:
        names.pop()
    return names


def check_class_names(class_names: Sequence[str] | None, classes: int) -> list[str]:
    """`class_names` as a list of `classes` non-empty strings, or the default names when None."""
    if class_names is None:
        return default_class_names(classes)
    if isinstance(class_names, (str, bytes)):
        raise ValueError("class_names must be a sequence of strings, not one string")
    names = list(class_names)
    if len(names) != classes:
        raise ValueError(f"got {len(names)} class names for a model with {classes} classes")
    bad = [i for i, name in enumerate(names) if not isinstance(name, str) or not name]
    if bad:
        raise ValueError(f"class names must be non-empty strings; entries {bad[:10]} are not")
    return names
