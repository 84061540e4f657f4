"""What every named builder shares: keras.applications' signature and its include_top=False."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

import keras_classics as kc

APPLICATIONS_ARGUMENTS = [
    ("include_top", True),
    ("weights", None),
    ("input_tensor", None),
    ("input_shape", None),
    ("pooling", None),
    ("classes", 1000),
    ("classifier_activation", "softmax"),
    ("name", None),
]
NAMED = ["AlexNet", "VGG11", "VGG11_LRN", "VGG13", "VGG16C", "VGG16", "VGG19"]
NAMED += [f"ResNet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110, 1202)]
CIFAR = {f"ResNet{d}" for d in (20, 32, 44, 56, 110, 1202)}


@pytest.mark.parametrize("name", NAMED)
def test_named_builders_show_the_keras_applications_arguments(name):
    parameters = list(inspect.signature(getattr(kc, name)).parameters.values())
    expected = [
        (k, 10 if k == "classes" and name in CIFAR else v) for k, v in APPLICATIONS_ARGUMENTS
    ]
    assert [(p.name, p.default) for p in parameters[:8]] == expected
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[:8])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[8:])
    assert "include_top" in (getattr(kc, name).__doc__ or "") or getattr(kc, name).__doc__


def test_named_builders_pass_every_argument_on():
    model = kc.ResNet20(False, None, None, (40, 40, 3), "max", name="r20", shortcut="B")
    assert model.name == "r20" and model.output_shape == (None, 64)
    assert model.layers[-1].name == "max_pool"
    assert "conv3_block1_0_conv" in [layer.name for layer in model.layers]  # option B
    with pytest.raises(TypeError, match="shortcutt"):
        kc.ResNet18(shortcutt="A")
    with pytest.raises(TypeError, match="too many positional"):
        kc.VGG16(True, None, None, None, None, 1000, "softmax", "vgg", False)  # keyword-only
    vgg = kc.VGG11(include_top=False, pooling="avg", batch_norm=True)
    assert vgg.name == "vgg11_bn" and vgg.output_shape == (None, 512)


@pytest.mark.parametrize(
    "build",
    [kc.AlexNet, kc.VGG11, kc.ResNet18, kc.ResNet20],
    ids=["alexnet", "vgg11", "resnet18", "resnet20"],
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_include_top_false_takes_any_input_size(rng, build, data_format):
    keras.config.set_image_data_format(data_format)
    model = build(include_top=False, pooling="avg")
    any_size = (3, None, None) if data_format == "channels_first" else (None, None, 3)
    assert model.input_shape[1:] == any_size
    for size in (64, 96):
        shape = (1, 3, size, size) if data_format == "channels_first" else (1, size, size, 3)
        features = np.asarray(model(rng.uniform(0, 1, shape).astype("float32"), training=False))
        assert features.shape == (1, model.output_shape[-1])
    assert build().input_shape[1:] != any_size  # with its classifier: the fixed size
