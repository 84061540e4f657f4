"""Presets and weights="imagenet": the table, download (mocked by local files), hash, cache,
the record attached, errors."""

from __future__ import annotations

import hashlib
import inspect
import socket

import h5py
import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import list_models
from keras_classics.weights import PRESETS, get_preset, load_torchvision
from tests.helpers import REPO, assert_close_to_scale, perturb_weights
from tests.weights.support import (
    publish,
    torch_logits,
    torchvision_models,
)

R18 = "resnet18.tv_in1k"


def test_imagenet_weights_download_verify_convert_and_cache(
    monkeypatch, keras_home, resnet18_origin, rng
):
    import torch

    source, path = resnet18_origin
    file = publish(monkeypatch, R18, path)
    model = kc.ResNet18(weights="imagenet", classifier_activation=None)
    by_hand = load_torchvision(path, kc.ResNet18(classifier_activation=None))
    x = rng.normal(size=(2, 224, 224, 3)).astype("float32")
    logits = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(logits, np.asarray(by_hand(x, training=False)))
    assert_close_to_scale(logits, torch_logits(source, x))
    downloaded = keras_home / "models" / file.file_name
    converted = keras_home / "models" / "keras_classics" / f"{R18}-{file.hash}.weights.h5"
    assert downloaded.is_file() and converted.is_file()
    assert kc.model_record(model) == PRESETS[R18].record
    assert kc.model_record(model).normalization == "torch" and kc.model_record(model).source == R18
    # The converted file is used from now on: no download, no conversion.
    published = path.read_bytes()
    path.unlink()
    downloaded.unlink()
    again = kc.ResNet18(weights="imagenet", classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(again(x, training=False)), logits)
    # An altered converted file fails its recorded digest and is converted again.
    path.write_bytes(published)
    kc.ResNet18(classifier_activation=None).save_weights(converted)
    redone = kc.ResNet18(weights="imagenet", classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(redone(x, training=False)), logits)
    # Without the top: the trunk (torchvision's pooled features), cached in a file of its own.
    path.write_bytes(published)
    trunk = kc.ResNet18(include_top=False, pooling="avg", weights="imagenet")
    source.fc = torch.nn.Identity()
    assert_close_to_scale(trunk(x, training=False), torch_logits(source, x))
    assert (converted.parent / f"{R18}-{file.hash}_notop.weights.h5").is_file()
    assert kc.model_record(trunk).class_names is None  # no classifier, no class names
    assert kc.model_record(trunk).normalization == "torch"


def test_a_corrupted_file_is_rejected_and_deleted(monkeypatch, keras_home, resnet18_origin):
    _, path = resnet18_origin
    file = publish(monkeypatch, R18, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"corrupt.*sha256 is [0-9a-f]{{64}}.*gives {file.hash}"):
        kc.ResNet18(weights="imagenet")
    assert not (keras_home / "models" / file.file_name).exists()
    assert not (keras_home / "models" / "keras_classics").exists()


def test_a_file_changed_after_its_first_download_is_refused(
    monkeypatch, keras_home, resnet18_origin
):
    """The full SHA-256 recorded at the first verified download pins the file: one that still
    matches the published 32-bit prefix (here: republished) but not the record is refused."""
    _, path = resnet18_origin
    file = publish(monkeypatch, R18, path)
    kc.ResNet18(weights="imagenet", input_shape=(32, 32, 3))
    downloaded = keras_home / "models" / file.file_name
    recorded = downloaded.with_name(downloaded.name + ".sha256")
    assert recorded.read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    data = bytearray(downloaded.read_bytes())
    data[len(data) // 2] ^= 0xFF
    downloaded.write_bytes(bytes(data))
    publish(monkeypatch, R18, downloaded)  # its prefix is now the published one
    with pytest.raises(ValueError) as refused:
        kc.ResNet18(weights="imagenet", input_shape=(32, 32, 3))
    message = str(refused.value)
    assert "\n" not in message and "changed since its first verified download" in message
    assert recorded.read_text().strip() in message
    assert not downloaded.exists() and recorded.is_file()


def test_offline_names_the_url_and_where_to_place_the_file(
    monkeypatch, keras_home, resnet18_origin, rng
):
    _, path = resnet18_origin
    with socket.socket() as probe:  # a local port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/{path.name}"
    publish(monkeypatch, R18, path, url=url)
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
    file = publish(monkeypatch, "resnet50.keras_in1k", path, notop=True)
    assert file.algorithm == "md5" and len(file.hash) == 32  # keras.applications publishes md5
    ours = kc.ResNet50(include_top=False, weights="imagenet", input_shape=(64, 64, 3))
    x = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    assert_close_to_scale(ours(x, training=False), peer(x, training=False))
    assert kc.model_record(ours).normalization == "caffe"


@pytest.mark.parametrize(
    "build",
    [
        lambda: kc.AlexNet(weights="imagenet"),  # the paper's two towers
        lambda: kc.AlexNet(weights="imagenet", variant="one_tower"),
        lambda: kc.VGG11_LRN(weights="imagenet"),
        lambda: kc.VGG16C(weights="imagenet"),
        lambda: kc.ResNet20(weights="imagenet"),
        lambda: kc.ResNet18(weights="imagenet", plain=True),
    ],
)
def test_models_without_a_preset_list_the_presets(build):
    with pytest.raises(ValueError, match="has no public ImageNet weights") as error:
        build()
    for name in PRESETS:
        assert name in str(error.value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: kc.ResNet34(weights="imagenet", shortcut="A"), r"needs shortcut='B'.*'A'"),
        (lambda: kc.ResNet50(weights="imagenet", shortcut="C"), r"needs shortcut='B'.*'C'"),
        (
            lambda: kc.ResNet50(weights="resnet50.tv_in1k"),
            r"resnet50.tv_in1k' needs stride_in_1x1=False.*get_model\('resnet50.tv_in1k'\).*"
            r"resnet50.keras_in1k",
        ),
        (
            lambda: kc.VGG16(weights="imagenet", dense_evaluation=True),
            r"needs dense_evaluation=False",
        ),
        (
            lambda: kc.ResNet34(weights="resnet18.tv_in1k"),
            r"is for model 'resnet18', not 'resnet34'",
        ),
        (lambda: kc.ResNet18(weights="resnet18.in22k"), r"unknown preset 'resnet18.in22k'"),
        (
            lambda: kc.ResNet18(weights="imagenet", classes=10),
            r"needs classes=1000.*got classes=10",
        ),
        (lambda: kc.ResNet18(weights="r18.pth"), r"a checkpoint to convert.*convert_weights"),
        (lambda: kc.ResNet18(weights="r18"), r"neither 'imagenet', a preset name"),
    ],
)
def test_a_preset_that_does_not_fit_fails_before_any_download(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_imagenet_is_the_documented_default_preset():
    defaults = {p.model: name for name, p in PRESETS.items() if p.default}
    assert defaults == {
        "resnet18": "resnet18.tv_in1k",
        "resnet34": "resnet34.tv_in1k",
        "resnet50": "resnet50.keras_in1k",
        "resnet101": "resnet101.keras_in1k",
        "resnet152": "resnet152.keras_in1k",
        "vgg11": "vgg11.tv_in1k",
        "vgg11_bn": "vgg11_bn.tv_in1k",
        "vgg13": "vgg13.tv_in1k",
        "vgg13_bn": "vgg13_bn.tv_in1k",
        "vgg16": "vgg16.keras_in1k",
        "vgg16_bn": "vgg16_bn.tv_in1k",
        "vgg19": "vgg19.keras_in1k",
        "vgg19_bn": "vgg19_bn.tv_in1k",
        "alexnet_owt": "alexnet_owt.tv_in1k",
    }
    assert kc.list_presets("resnet50") == ["resnet50.keras_in1k", "resnet50.tv_in1k"]
    assert kc.list_presets() == list(PRESETS)
    with pytest.raises(ValueError, match=r"unknown preset 'resnet50.v2'.*resnet50.tv_in1k"):
        get_preset("resnet50.v2")


def test_every_preset_states_its_facts():
    for name, preset in PRESETS.items():
        assert name == f"{preset.model}.{name.split('.')[1]}" and preset.model in list_models()
        assert preset.record.normalization in NORMALIZATIONS and preset.record.source == name
        assert preset.record.normalization == ("torch" if "tv_" in name else "caffe"), name
        assert (preset.record.image_size, preset.record.resize_size) == (224, 256)
        assert (
            preset.classes == 1000
            and preset.record.class_names == kc.weights.imagenet_class_names()
        )
        assert preset.file.url.endswith(preset.file.file_name) and preset.licence
        assert 50 < preset.top1 < preset.top5 < 100


def test_get_model_builds_a_preset_with_its_options(monkeypatch):
    built = {}
    monkeypatch.setattr(
        "keras_classics.registry.ModelEntry.build", lambda entry, **kwargs: built.update(kwargs)
    )
    kc.get_model("resnet50.tv_in1k", include_top=False)
    assert built == {
        "shortcut": "B",
        "stride_in_1x1": False,
        "weights": "resnet50.tv_in1k",
        "include_top": False,
    }
    built.clear()
    kc.get_model("resnet50", weights="resnet50.tv_in1k", classes=1000)
    assert built["stride_in_1x1"] is False and built["weights"] == "resnet50.tv_in1k"


def test_keras_presets_are_those_keras_applications_publishes():
    from keras.src.applications import resnet, vgg16, vgg19

    for preset in PRESETS.values():
        if preset.converter != "keras_applications":
            continue
        files = (preset.file, preset.notop_file)
        if preset.model.startswith("vgg"):
            module = {"vgg16": vgg16, "vgg19": vgg19}[preset.model]
            assert [f.url for f in files] == [module.WEIGHTS_PATH, module.WEIGHTS_PATH_NO_TOP]
            code = inspect.getsource(module)  # VGG's md5s are literals in the builder
            assert all(f'file_hash="{f.hash}"' in code for f in files), preset.name
        else:
            assert resnet.WEIGHTS_HASHES[preset.model] == tuple(f.hash for f in files)
            stem = f"{resnet.BASE_WEIGHTS_PATH}{preset.model}_weights_tf_dim_ordering_tf_kernels"
            assert [f.url for f in files] == [f"{stem}.h5", f"{stem}_notop.h5"]


def test_torchvision_presets_are_those_torchvision_publishes():
    models = torchvision_models()
    for preset in PRESETS.values():
        if preset.converter == "torchvision":
            published = getattr(models, preset.reference.split(".")[2]).IMAGENET1K_V1
            assert published.url == preset.file.url, preset.name
            metrics = published.meta["_metrics"]["ImageNet-1K"]
            assert (metrics["acc@1"], metrics["acc@5"]) == (preset.top1, preset.top5)
            assert f"-{preset.file.hash}." in preset.file.file_name
            transforms = published.transforms()  # the record is torchvision's own evaluation
            assert (transforms.crop_size, transforms.resize_size) == ([224], [256])
            assert str(transforms.interpolation.value) == preset.record.interpolation
            assert list(published.meta["categories"]) == list(preset.record.class_names)


def test_the_docs_table_states_every_preset():
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in (REPO / "docs" / "weights.md").read_text().splitlines()
        if line.startswith("| `")
    }
    assert sorted(rows) == sorted(PRESETS)
    for name, preset in PRESETS.items():
        row = rows[name]
        assert preset.file.url in row and f"`{preset.file.hash}`" in row, name
        assert f"{preset.top1} / {preset.top5}" in row and preset.licence in row, name
        assert f"`{preset.record.normalization}`" in row, name
        assert ("| yes |" if preset.default else "| no |") in row, name
