"""weights="imagenet": the sources table, download (mocked by local files), hash, cache, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import list_models
from keras_classics.weights import SOURCES, load_torchvision, pretrained_source
from keras_classics.weights.pretrained import PublishedFile
from tests.helpers import assert_close_to_scale, perturb_weights
from tests.weights.support import random_torchvision, torch_logits, torchvision_models


def publish(monkeypatch, name: str, path: Path, url: str | None = None, notop: bool = False):
    """Points SOURCES[name] (or its notop file) at `path`, with the hash of `path`'s bytes."""
    source = SOURCES[name]
    published = source.notop_file if notop else source.file
    digest = hashlib.new(published.algorithm, path.read_bytes()).hexdigest()
    if published.algorithm == "sha256":
        digest = digest[:8]  # torchvision publishes a prefix, in the file name
    file = PublishedFile(url or path.as_uri(), digest, published.algorithm)
    changed = {"notop_file" if notop else "file": file}
    monkeypatch.setitem(SOURCES, name, dataclasses.replace(source, **changed))
    return file


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def resnet18_origin(tmp_path):
    """A random torchvision ResNet-18 saved as its published file would be."""
    import torch

    source = random_torchvision("resnet18")
    origin = tmp_path / "origin"
    origin.mkdir()
    path = origin / "resnet18-published.pth"
    torch.save(source.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return source, path.rename(origin / f"resnet18-{digest}.pth")


def test_imagenet_weights_download_verify_convert_and_cache(
    monkeypatch, keras_home, resnet18_origin, rng
):
    import torch

    source, path = resnet18_origin
    file = publish(monkeypatch, "resnet18", path)
    model = kc.ResNet18(weights="imagenet", classifier_activation=None)
    by_hand = load_torchvision(path, kc.ResNet18(classifier_activation=None))
    x = rng.normal(size=(2, 224, 224, 3)).astype("float32")
    logits = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(logits, np.asarray(by_hand(x, training=False)))
    assert_close_to_scale(logits, torch_logits(source, x))
    downloaded = keras_home / "models" / file.file_name
    converted = keras_home / "models" / "keras_classics" / f"resnet18-{file.hash}.weights.h5"
    assert downloaded.is_file() and converted.is_file()
    assert pretrained_source(model) is SOURCES["resnet18"]
    assert pretrained_source(model).normalization == "torch"
    # The converted file is used from now on: no download, no conversion.
    published = path.read_bytes()
    path.unlink()
    downloaded.unlink()
    again = kc.ResNet18(weights="imagenet", classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(again(x, training=False)), logits)
    # Without the top: the trunk (torchvision's pooled features), cached in a file of its own.
    path.write_bytes(published)
    trunk = kc.ResNet18(include_top=False, pooling="avg", weights="imagenet")
    source.fc = torch.nn.Identity()
    assert_close_to_scale(trunk(x, training=False), torch_logits(source, x))
    assert (converted.parent / f"resnet18-{file.hash}_notop.weights.h5").is_file()


def test_a_corrupted_file_is_rejected_and_deleted(monkeypatch, keras_home, resnet18_origin):
    _, path = resnet18_origin
    file = publish(monkeypatch, "resnet18", path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"corrupt.*sha256 is [0-9a-f]{{64}}.*gives {file.hash}"):
        kc.ResNet18(weights="imagenet")
    assert not (keras_home / "models" / file.file_name).exists()
    assert not (keras_home / "models" / "keras_classics").exists()


def test_offline_names_the_url_and_where_to_place_the_file(
    monkeypatch, keras_home, resnet18_origin, rng
):
    _, path = resnet18_origin
    with socket.socket() as probe:  # a local port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/{path.name}"
    publish(monkeypatch, "resnet18", path, url=url)
    target = keras_home / "models" / path.name
    with pytest.raises(ValueError, match=rf"cannot download {url}.*place it at {target}"):
        kc.ResNet18(weights="imagenet")
    target.write_bytes(path.read_bytes())  # what the message tells the user to do
    model = kc.ResNet18(weights="imagenet", input_shape=(64, 64, 3))
    x = rng.normal(size=(1, 64, 64, 3)).astype("float32")
    expected = load_torchvision(path, kc.ResNet18(input_shape=(64, 64, 3)))
    assert_close_to_scale(model(x, training=False), expected(x, training=False))


def test_keras_applications_source_without_top_uses_the_notop_file(
    tmp_path, monkeypatch, keras_home, rng
):
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    peer = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    perturb_weights(peer, rng)
    path = tmp_path / "resnet50_notop.h5"
    with h5py.File(path, "w") as file:
        save_weights_to_hdf5_group(file, peer)
    file = publish(monkeypatch, "resnet50", path, notop=True)
    assert file.algorithm == "md5" and len(file.hash) == 32  # keras.applications publishes md5
    ours = kc.ResNet50(include_top=False, weights="imagenet", input_shape=(64, 64, 3))
    x = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    assert_close_to_scale(ours(x, training=False), peer(x, training=False))
    assert pretrained_source(ours).normalization == "caffe"


@pytest.mark.parametrize(
    "build",
    [
        lambda: kc.AlexNet(weights="imagenet"),  # the paper's two towers
        lambda: kc.AlexNet(weights="imagenet", variant="one_tower"),
        lambda: kc.VGG11_LRN(weights="imagenet"),
        lambda: kc.VGG16C(weights="imagenet"),
        lambda: kc.VGG16(weights="imagenet", dense_evaluation=True),
        lambda: kc.ResNet20(weights="imagenet"),
        lambda: kc.ResNet34(weights="imagenet", shortcut="A"),
        lambda: kc.ResNet50(weights="imagenet", shortcut="C"),
        lambda: kc.ResNet18(weights="imagenet", plain=True),
    ],
)
def test_configurations_without_a_source_list_those_with_one(build):
    with pytest.raises(ValueError, match="no public ImageNet weights for") as error:
        build()
    for source in SOURCES.values():
        assert source.description in str(error.value)
    assert "resnet50 with stride_in_1x1=False (torchvision)" in str(error.value)


def test_imagenet_with_other_classes_needs_include_top_false():
    with pytest.raises(ValueError, match=r"needs classes=1000.*got classes=10.*include_top=False"):
        kc.ResNet18(weights="imagenet", classes=10)


def test_pretrained_source_by_name_gives_normalization_and_size():
    assert pretrained_source("resnet50").converter == "keras_applications"
    assert pretrained_source("resnet50").normalization == "caffe"
    v1_5 = pretrained_source("resnet50", stride_in_1x1=False)
    assert v1_5 is SOURCES["resnet50_v1.5"] and v1_5.normalization == "torch"
    assert pretrained_source("vgg16_bn").preprocessing is NORMALIZATIONS["torch"]
    assert pretrained_source("alexnet_owt").input_size == 224
    for wrong in ("alexnet", "resnet20"):
        with pytest.raises(ValueError, match="no public ImageNet weights"):
            pretrained_source(wrong)
    with pytest.raises(ValueError, match=r"unknown model 'resnet51'.*resnet50_v1\.5"):
        pretrained_source("resnet51")
    with pytest.raises(ValueError, match="was not built with weights='imagenet'"):
        pretrained_source(kc.ResNet20())


def test_every_source_resolves_to_itself_with_a_known_normalization():
    for name, source in SOURCES.items():
        assert pretrained_source(source.model, **source.options) is source, name
        assert source.model in list_models() and source.normalization in NORMALIZATIONS
        assert source.file.url.endswith(source.file.file_name)


def test_keras_sources_are_those_keras_applications_publishes():
    from keras.src.applications import resnet, vgg16, vgg19

    for source in SOURCES.values():
        if source.converter != "keras_applications":
            continue
        files = (source.file, source.notop_file)
        if source.name.startswith("vgg"):
            module = {"vgg16": vgg16, "vgg19": vgg19}[source.name]
            assert [f.url for f in files] == [module.WEIGHTS_PATH, module.WEIGHTS_PATH_NO_TOP]
            code = inspect.getsource(module)  # VGG's md5s are literals in the builder
            assert all(f'file_hash="{f.hash}"' in code for f in files), source.name
        else:
            assert resnet.WEIGHTS_HASHES[source.name] == tuple(f.hash for f in files)
            stem = f"{resnet.BASE_WEIGHTS_PATH}{source.name}_weights_tf_dim_ordering_tf_kernels"
            assert [f.url for f in files] == [f"{stem}.h5", f"{stem}_notop.h5"]


def test_torchvision_sources_are_those_torchvision_publishes():
    models = torchvision_models()
    for source in SOURCES.values():
        if source.converter == "torchvision":
            enum = getattr(models, source.reference.split(".")[2])
            published = enum.IMAGENET1K_V1
            assert published.url == source.file.url, source.name
            assert published.meta["_metrics"]["ImageNet-1K"]["acc@1"] == source.top1
            assert f"-{source.file.hash}." in source.file.file_name
