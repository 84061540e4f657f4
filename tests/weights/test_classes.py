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
        (np.zeros((2, 10)), 5, r"\(samples, 1000\) for 1000 class names; got shape \(2, 10\)"),
        (np.zeros(1000), 5, r"got shape \(1000,\)"),
        (np.zeros((1, 1000)), 0, "top must be an int from 1 to 1000"),
    ],
)
def test_decode_predictions_rejects_bad_input(preds, top, message):
    with pytest.raises(ValueError, match=message):
        decode_predictions(preds, top=top)


def test_top_level_decode_predictions_uses_a_records_class_names(rng):
    import keras_classics as kc
    from keras_classics.normalization import PreprocessingRecord

    record = PreprocessingRecord("cifar10", 32, 32, class_names=("zero", "one", "two"))
    decoded = kc.decode_predictions(np.array([[0.1, 0.7, 0.2]]), top=2, preset_or_model=record)
    assert decoded == [[(1, "one", pytest.approx(0.7)), (2, "two", pytest.approx(0.2))]]
    assert kc.decode_predictions(rng.uniform(size=(1, 1000)), top=1)[0][0][1] in (
        imagenet_class_names()
    )
    with pytest.raises(ValueError, match=r"shape \(samples, 3\) for 3 class names"):
        kc.decode_predictions(np.zeros((1, 1000)), preset_or_model=record)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_normalises_as_the_preset_says(rng, data_format):
    import keras

    import keras_classics as kc

    images = rng.uniform(0, 255, (2, 4, 5, 3)).astype("float32")  # RGB, channels last
    torch_style = (images / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    caffe_style = images[..., ::-1] - [103.939, 116.779, 123.68]  # BGR minus BGR means
    for preset, expected in (("resnet18.tv_in1k", torch_style), ("vgg16.keras_in1k", caffe_style)):
        x = images if data_format == "channels_last" else images.transpose(0, 3, 1, 2)
        out = kc.preprocess_input(x, preset, data_format=data_format)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        if data_format == "channels_first":
            out = out.transpose(0, 2, 3, 1)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    tensor = kc.preprocess_input(
        keras.ops.convert_to_tensor(images), "resnet18.tv_in1k", "channels_last"
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tensor), torch_style, rtol=1e-5, atol=1e-4
    )


def test_preprocess_input_needs_a_record():
    import keras_classics as kc

    with pytest.raises(ValueError, match="carries no preprocessing record"):
        kc.preprocess_input(np.zeros((1, 8, 8, 3)), kc.ResNet20(input_shape=(8, 8, 3)))
    with pytest.raises(ValueError, match=r"data_format='nhwc'.*channels_last"):
        kc.preprocess_input(np.zeros((1, 8, 8, 3)), "resnet18.tv_in1k", data_format="nhwc")
