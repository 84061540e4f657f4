"""Normalisation constants: one home, exact formulas of torchvision and Caffe."""

from __future__ import annotations

import numpy as np
import pytest

from keras_classics.normalization import NORMALIZATIONS, get_normalization


def test_torch_and_caffe_formulas(rng):
    pixels = rng.uniform(0, 255, (2, 3, 4, 3))
    torch_style = (pixels / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(get_normalization("torch").apply(pixels), torch_style, rtol=1e-5)
    caffe_style = pixels[..., ::-1] - [103.939, 116.779, 123.68]  # BGR
    np.testing.assert_allclose(get_normalization("caffe").apply(pixels), caffe_style)
    np.testing.assert_allclose(
        get_normalization("mean").apply(pixels), pixels - [123.68, 116.779, 103.939]
    )


@pytest.mark.parametrize("name", list(NORMALIZATIONS))
def test_invert_undoes_apply(rng, name):
    pixels = rng.uniform(0, 255, (5, 3))
    normalization = get_normalization(name)
    np.testing.assert_allclose(normalization.invert(normalization.apply(pixels)), pixels, atol=1e-9)


def test_unknown_names_list_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown normalization 'imagenet'; choose one of \['torch', 'caffe'"
    ):
        get_normalization("imagenet")
    assert get_normalization(NORMALIZATIONS["caffe"]) is NORMALIZATIONS["caffe"]
