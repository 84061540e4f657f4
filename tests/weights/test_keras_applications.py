"""keras.applications ResNet50/101/152 and VGG16/19 -> ours: equal logits, strict mismatches."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

import keras_classics as kc
from keras_classics.weights import load_keras_applications, read_keras_h5
from tests.helpers import assert_close_to_scale, perturb_weights
from tests.weights.support import assert_unchanged, on_input_size, weights_of

CLASSES = 10


def save_legacy_h5(model: keras.Model, path) -> None:
    """The legacy HDF5 weights format of the published keras.applications files."""
    with h5py.File(path, "w") as file:
        save_weights_to_hdf5_group(file, model)


def peer_resnet(depth: int, **kwargs) -> keras.Model:
    """keras.applications' ResNet taking any input size (an input tensor of shape None)."""
    return getattr(keras.applications, f"ResNet{depth}")(
        weights=None, input_tensor=keras.Input((None, None, 3)), **kwargs
    )


@pytest.mark.parametrize("application", ["ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19"])
def test_converted_model_gives_keras_applications_logits(tmp_path, rng, application):
    head = {"classes": CLASSES, "classifier_activation": None}
    if application.startswith("VGG"):
        peer = getattr(keras.applications, application)(weights=None, **head)
        ours = getattr(kc, application)(**head)
        for layer in peer.layers:
            if layer.weights:  # non-zero biases; the kernels are random already
                layer.bias.assign(rng.normal(0, 0.05, layer.bias.shape))
    else:
        depth = int(application.removeprefix("ResNet"))
        peer = peer_resnet(depth, **head)
        ours = kc.ResNet(depth, input_shape=(None, None, 3), **head)
        perturb_weights(peer, rng)  # non-zero conv biases and BN statistics, folded on transfer
    source = peer
    if application == "ResNet50":  # through the published file format too
        source = tmp_path / "peer.h5"
        save_legacy_h5(peer, source)
    load_keras_applications(source, ours)
    for size in (224, 225):
        x = rng.uniform(0, 255, (1, size, size, 3)).astype("float32")
        if application.startswith("VGG") and size != 224:
            peer, ours = on_input_size(peer, size), on_input_size(ours, size)
        assert_close_to_scale(ours(x, training=False), peer(x, training=False))


@pytest.fixture(scope="module")
def resnet50_peer():
    """keras.applications ResNet50 with perturbed weights (built once for the module)."""
    peer = peer_resnet(50, classes=CLASSES)
    perturb_weights(peer, np.random.default_rng(0))
    return peer


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (lambda: kc.ResNet50(classes=CLASSES, shortcut="A"), r"'conv2_block1_0_pad'.*option B"),
        (
            lambda: kc.ResNet50(classes=CLASSES, stride_in_1x1=False),
            r"'conv3_block1_1_conv' has strides \(1, 1\).*stride_in_1x1=True",
        ),
        (lambda: kc.ResNet34(classes=CLASSES), r"'conv2_block1_1_conv': weight shapes \[\(3, 3"),
        (lambda: kc.ResNet50(classes=5), r"layer 'predictions': weight shapes"),
        (lambda: kc.ResNet50(classes=CLASSES, plain=True), r"'conv2_block1_0_conv'.* no count"),
    ],
)
def test_mismatches_name_the_first_layer_and_load_nothing(resnet50_peer, target, message):
    model = target()
    before = weights_of(model)
    with pytest.raises(ValueError, match=message):
        load_keras_applications(resnet50_peer, model)
    assert_unchanged(model, before)


def test_reads_the_legacy_h5_format_and_skips_the_head_without_top(tmp_path, resnet50_peer, rng):
    path = tmp_path / "resnet50.h5"
    save_legacy_h5(resnet50_peer, path)
    layers = read_keras_h5(path)
    assert layers["conv1_conv"][0].shape == (7, 7, 3, 64)
    assert [w.shape for w in layers["conv1_bn"]] == [(64,)] * 4
    trunk = kc.ResNet50(include_top=False, pooling="avg", input_shape=(64, 64, 3))
    load_keras_applications(path, trunk)
    features = keras.Model(resnet50_peer.input, resnet50_peer.get_layer("avg_pool").output)
    x = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    assert_close_to_scale(trunk(x, training=False), features(x, training=False))
    with pytest.raises(ValueError, match="cannot be read as a Keras HDF5"):
        (tmp_path / "bad.h5").write_bytes(b"not hdf5")
        read_keras_h5(tmp_path / "bad.h5")
