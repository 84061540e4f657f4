"""The bundled ImageNet class names and decode_predictions."""

from __future__ import annotations

import numpy as np
import pytest

from keras_classics.weights import decode_predictions, imagenet_class_names
from tests.weights.support import torchvision_models


def test_class_names_are_the_thousand_imagenet_classes():
    names = imagenet_class_names()
    assert len(names) == len(set(names)) == 1000
    assert names[0] == "tench" and names[1] == "goldfish" and names[999] == "toilet tissue"
    assert names[134] == "crane bird" and names[517] == "crane"  # made unique by torchvision


def test_class_names_equal_torchvisions():
    categories = torchvision_models()._meta._IMAGENET_CATEGORIES  # skips without torchvision
    assert list(imagenet_class_names()) == list(categories)


def test_decode_predictions_orders_the_top_classes(rng):
    preds = rng.uniform(0, 1, (3, 1000)).astype("float32")
    preds[0, 42], preds[1, 7] = 2.0, 3.0
    decoded = decode_predictions(preds, top=4)
    assert len(decoded) == 3 and all(len(row) == 4 for row in decoded)
    assert decoded[0][0] == (42, imagenet_class_names()[42], 2.0)
    assert decoded[1][0][:2] == (7, imagenet_class_names()[7])
    for row, scores in zip(decoded, preds, strict=True):
        assert [index for index, _, _ in row] == list(np.argsort(-scores)[:4])
        assert [score for _, _, score in row] == sorted(scores, reverse=True)[:4]


@pytest.mark.parametrize(
    ("preds", "top", "message"),
    [
        (np.zeros((2, 10)), 5, r"shape \(samples, 1000\); got shape \(2, 10\)"),
        (np.zeros(1000), 5, r"got shape \(1000,\)"),
        (np.zeros((1, 1000)), 0, "top must be an int from 1 to 1000"),
    ],
)
def test_decode_predictions_rejects_bad_input(preds, top, message):
    with pytest.raises(ValueError, match=message):
        decode_predictions(preds, top=top)
