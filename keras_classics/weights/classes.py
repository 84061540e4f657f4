"""The 1000 ImageNet (ILSVRC-2012) class names, in the class-index order of every source.

`imagenet_classes.txt` (bundled, one name per line, line i = class i) was generated once from
torchvision's `torchvision.models._meta._IMAGENET_CATEGORIES` (torchvision 0.28.0, BSD 3-Clause
licence, (c) Soumith Chintala 2016 and the torchvision contributors): short readable names,
made unique (e.g. "crane" the machine and "crane bird"). keras.applications and torchvision
models share this class order (the sorted WordNet ids of ILSVRC-2012).
"""

from __future__ import annotations

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


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[int, str, float]]]:
    """The `top` classes of each row of `preds` (N, 1000), best first, as in keras.applications.

    Each row gives a list of (class index, class name, score) tuples; keras.applications gives
    the WordNet id where this gives the class index.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != IMAGENET_CLASSES:
        raise ValueError(
            f"decode_predictions expects a batch of ImageNet scores of shape (samples, "
            f"{IMAGENET_CLASSES}); got shape {preds.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= IMAGENET_CLASSES:
        raise ValueError(f"top must be an int from 1 to {IMAGENET_CLASSES}; got {top!r}")
    names = imagenet_class_names()
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [
        [(int(i), names[i], float(row[i])) for i in indices]
        for row, indices in zip(preds, best, strict=True)
    ]
