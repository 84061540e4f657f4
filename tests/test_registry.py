"""The registry: every registered model builds, runs and names its choices."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.registry import get_entry, register_model


def test_lists_the_papers_networks():
    assert kc.list_models("resnet") == [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "plain18",
        "plain34",
    ]
    cifar = kc.list_models("resnet_cifar")
    for depth in (20, 32, 44, 56, 110, 1202):
        assert f"resnet{depth}" in cifar and f"plain{depth}" in cifar
    assert kc.list_models("vgg") == [
        "vgg11",
        "vgg11_bn",
        "vgg11_lrn",
        "vgg13",
        "vgg13_bn",
        "vgg16c",
        "vgg16c_bn",
        "vgg16",
        "vgg16_bn",
        "vgg19",
        "vgg19_bn",
    ]
    assert kc.list_models("alexnet") == ["alexnet", "alexnet_one_tower", "alexnet_owt"]
    assert kc.list_models("mnist1d") == [
        "logistic_1d",
        "mlp_1d",
        "cnn_1d",
        "resnet20_1d",
        "plain20_1d",
        "resnet56_1d",
        "plain56_1d",
    ]
    with pytest.raises(ValueError, match=r"unknown family 'densenet'.*'alexnet', 'mnist1d'"):
        kc.list_models("densenet")


def test_names_are_unique_and_lower_case():
    with pytest.raises(ValueError, match="only once"):
        register_model("resnet18", kc.ResNet18, family="resnet", input_size=224)
    assert get_entry("ResNet18").name == "resnet18"


def test_entries_give_their_input_shape():
    assert get_entry("cnn_1d").input_shape == (40,)
    assert get_entry("vgg16").input_shape == (224, 224, 3)
    assert get_entry("resnet20").input_shape == (32, 32, 3)


@pytest.mark.parametrize("name", kc.list_models())
def test_every_registered_model_builds_and_runs(rng, name):
    entry = get_entry(name)
    # ResNets pool globally and take small inputs; VGG and AlexNet heads need their 224; the
    # MNIST-1D family takes signals of its length.
    shape = (64, 64, 3) if entry.family.startswith("resnet") else entry.input_shape
    model = kc.get_model(name, input_shape=shape, classes=3)
    assert model.name == name
    # Training mode: BN normalises with the batch. In inference mode an untrained net uses the
    # initial BN statistics (mean 0, variance 1) and its features grow with every residual
    # addition; ResNet-1202's overflow (docs/models.md, "Options and choices").
    probabilities = np.asarray(model(rng.uniform(0, 1, (2, *shape)), training=True))
    assert probabilities.shape == (2, 3) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    assert isinstance(model, keras.Model) and kc.profile(model).trainable_params > 0
