"""torchvision state dicts -> our models: equal logits for every pair, strict on mismatches."""

from __future__ import annotations

import sys

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.weights import load_torchvision, read_state_dict
from keras_classics.weights.torchvision import torchvision_modules
from keras_classics.weights.transfer import flatten_map_shape, flattened_kernel
from tests.helpers import assert_close_to_scale
from tests.weights.support import (
    assert_unchanged,
    on_input_size,
    random_torchvision,
    torch_logits,
    torchvision_models,
    weights_of,
)

CLASSES = 10  # the head's size does not change the conversion; small keeps it quick
V1_5 = {"stride_in_1x1": False}
# torchvision model -> (our registry name, builder options, the odd input size compared).
# AlexNet at 255: pool5 gives 7x7, so the adaptive pool averages (at 224 it is a no-op).
PAIRS = {
    "alexnet": ("alexnet_owt", {}, 255),
    **{f"vgg{d}{bn}": (f"vgg{d}{bn}", {}, 225) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "resnet18": ("resnet18", {}, 225),
    "resnet34": ("resnet34", {}, 225),
    "resnet50": ("resnet50", V1_5, 225),
    "resnet101": ("resnet101", V1_5, 225),
    "resnet152": ("resnet152", V1_5, 225),
}


def build(name: str, options: dict, **kwargs) -> keras.Model:
    """Our model for the pair; VGG's fully connected head needs a fixed 224 input."""
    shape = (224, 224, 3) if name.startswith("vgg") else (None, None, 3)
    return kc.get_model(
        name, classes=CLASSES, classifier_activation=None, input_shape=shape, **options, **kwargs
    )


@pytest.mark.parametrize("torch_name", list(PAIRS))
def test_converted_model_gives_torchvision_logits(rng, torch_name):
    name, options, odd = PAIRS[torch_name]
    source = random_torchvision(torch_name, num_classes=CLASSES)
    ours = load_torchvision(source.state_dict(), build(name, options))
    for size in (224, odd):
        x = rng.normal(size=(1, size, size, 3)).astype("float32")
        model = ours if ours.input_shape[1] in (None, size) else on_input_size(ours, size)
        assert_close_to_scale(model(x, training=False), torch_logits(source, x))


@pytest.mark.parametrize("suffix", ["pth", "npz", "safetensors"])
def test_state_dict_files_read_without_torch(tmp_path, monkeypatch, rng, suffix):
    import torch

    source = random_torchvision("resnet18", num_classes=CLASSES)
    state = {k: v.numpy() for k, v in source.state_dict().items()}
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    if suffix == "npz":
        np.savez(tmp_path / "r18.npz", **state)
    else:
        save = pytest.importorskip("safetensors.numpy", reason="pip install safetensors").save_file
        save(state, str(tmp_path / "r18.safetensors"))
    from_torch = read_state_dict(tmp_path / "r18.pth", pth_reader="torch")
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "torch", None)  # `import torch` fails in here
        with pytest.raises(ValueError, match=r"r18.pth.* needs torch.*keras_classics\[torch\]"):
            read_state_dict(tmp_path / "r18.pth", pth_reader="torch")
        read = read_state_dict(tmp_path / f"r18.{suffix}")
        ours = load_torchvision(tmp_path / f"r18.{suffix}", build("resnet18", {}))
    assert sorted(read) == sorted(from_torch) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(read[key], value)
        np.testing.assert_array_equal(from_torch[key], value)
    x = rng.normal(size=(1, 64, 64, 3)).astype("float32")
    assert_close_to_scale(ours(x, training=False), torch_logits(source, x))


def test_include_top_false_loads_the_trunk(rng):
    import torch

    source = random_torchvision("resnet18", num_classes=CLASSES)
    ours = load_torchvision(
        source.state_dict(), kc.ResNet18(include_top=False, pooling="avg", input_shape=(64, 64, 3))
    )
    source.fc = torch.nn.Identity()  # torchvision's pooled features
    x = rng.normal(size=(2, 64, 64, 3)).astype("float32")
    assert_close_to_scale(ours(x, training=False), torch_logits(source, x))


def test_vgg_modules_follow_torchvision_numbering():
    models = torchvision_models()
    features = models.vgg.make_layers(models.vgg.cfgs["A"], batch_norm=True)  # VGG-11-BN's
    modules = torchvision_modules(kc.VGG11(batch_norm=True, include_top=False))
    expected = {f"features.{key.rsplit('.', 1)[0]}" for key in features.state_dict()}
    assert set(modules.values()) - {"classifier.0", "classifier.3", "classifier.6"} == expected
    assert modules["block1_conv1"] == "features.0" and modules["block1_conv1_bn"] == "features.1"
    assert modules["block2_conv1"] == "features.4"  # conv, bn, relu, pool: 0-3


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flattened_rows_are_permuted_to_keras_flatten_order(rng, data_format):
    channels, height, width = 4, 3, 2
    feature_map = rng.normal(size=(channels, height, width)).astype("float32")  # torch: C, H, W
    weight = rng.normal(size=(5, channels * height * width)).astype("float32")
    expected = weight @ feature_map.reshape(-1)  # torch.flatten, then Linear
    shape = feature_map.shape if data_format == "channels_first" else (height, width, channels)
    inputs = keras.Input(shape)
    dense = keras.layers.Dense(5, use_bias=False)
    flatten = keras.layers.Flatten(data_format=data_format, name="flatten")
    model = keras.Model(inputs, dense(flatten(inputs)))
    kernel = flattened_kernel(weight, dense, flatten_map_shape(model))
    dense.set_weights([kernel])
    x = feature_map if data_format == "channels_first" else feature_map.transpose(1, 2, 0)
    np.testing.assert_allclose(model(x[None])[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("source_kwargs", "target", "message"),
    [
        # deeper target: the first block ResNet-18 lacks
        ({}, lambda: kc.ResNet34(classes=CLASSES), r"'conv2_block3_1_conv' needs .*layer1\.2"),
        # shallower target: the first tensor left over
        (
            {"name": "resnet34"},
            lambda: kc.ResNet18(classes=CLASSES),
            r"source entry 'layer1\.2\.conv1\.weight' .* no counterpart in 'resnet18'",
        ),
        # wrong classes
        ({}, lambda: kc.ResNet18(classes=5), r"layer 'predictions': weight shapes"),
        # option A: no projection to receive torchvision's downsample
        ({}, lambda: kc.ResNet18(classes=CLASSES, shortcut="A"), r"'conv3_block1_0_pad'"),
        # the authors' layout, where torchvision's is v1.5
        (
            {"name": "resnet50"},
            lambda: kc.ResNet50(classes=CLASSES),
            r"'conv3_block1_1_conv' has strides \(2, 2\).*stride_in_1x1=False",
        ),
    ],
)
def test_mismatches_name_the_first_layer_and_load_nothing(source_kwargs, target, message):
    source = random_torchvision(source_kwargs.get("name", "resnet18"), num_classes=CLASSES)
    model = target()
    before = weights_of(model)
    with pytest.raises(ValueError, match=message):
        load_torchvision(source.state_dict(), model)
    assert_unchanged(model, before)


def test_alexnet_paper_and_lrn_layers_are_rejected():
    models = torchvision_models()
    features = models.vgg.make_layers(models.vgg.cfgs["A"])  # VGG-11's trunk only: quick
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    with pytest.raises(ValueError, match=r"'block1_lrn' \(LocalResponseNormalization\)"):
        load_torchvision(state, kc.VGG11_LRN(include_top=False, input_shape=(64, 64, 3)))
    alexnet = random_torchvision("alexnet", num_classes=CLASSES)
    paper = kc.AlexNet(classes=CLASSES)
    before = weights_of(paper)
    with pytest.raises(ValueError, match=r"layer 'conv1': weight shapes \[\(11, 11, 3, 96\)"):
        load_torchvision(alexnet.state_dict(), paper)
    assert_unchanged(paper, before)
