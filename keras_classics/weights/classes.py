"""The 1000 ImageNet (ILSVRC-2012) class names, in the class-index order of every source.

`imagenet_classes.txt` (bundled, one name per line, line i = class i) was generated once from
torchvision's `torchvision.models._meta._IMAGENET_CATEGORIES` (torchvision 0.28.0, BSD 3-Clause
licence, (c) Soumith Chintala 2016 and the torchvision contributors): short readable names,
made unique (e.g. "crane" the machine and "crane bird"). keras.applications and torchvision
models share this class order (the sorted WordNet ids of ILSVRC-2012).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

IMAGENET_CLASSES = 1000


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names; index i is the name of class i ("tench" is 0)."""
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text("utf8")
    names = tuple(text.splitlines())
    if len(names) != IMAGENET_CLASSES:
        raise ValueError(f"imagenet_classes.txt has {len(names)} names, not {IMAGENET_CLASSES}")
    return names


def top_classes(
    preds: Any, top: int = 5, class_names: Sequence[str] | None = None
) -> list[list[tuple[int, str, float]]]:
    """The `top` classes of each row of `preds` (N, classes), best first, as in
    keras.applications' `decode_predictions`: (class index, class name, score) tuples.

    `class_names` defaults to the ImageNet names (then `preds` must have 1000 columns).
    """
    names = imagenet_class_names() if class_names is None else tuple(class_names)
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != len(names):
        raise ValueError(
            f"decode_predictions expects a batch of scores of shape (samples, {len(names)}) "
            f"for {len(names)} class names; got shape {preds.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= len(names):
        raise ValueError(f"top must be an int from 1 to {len(names)}; got {top!r}")
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [
        [(int(i), names[i], float(row[i])) for i in indices]
        for row, indices in zip(preds, best, strict=True)
    ]
