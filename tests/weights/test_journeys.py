"""From a publisher's checkpoint to TF Serving with no preprocessing flag, against the
publisher's own pipeline, on two real photographs (scikit-learn's china.jpg and flower.jpg).

torchvision: a ResNet-18 with perturbed weights and BN statistics, saved by torch.save under
the published file name, served from a file:// URL that the preset is pointed at (hash
included); `kc.ResNet18(weights="resnet18.tv_in1k")` (read without torch), saved as `.keras`,
exported by scripts/export.py with no flags, asked through `serving_default`; compared with
`ResNet18_Weights.IMAGENET1K_V1.transforms()` (PIL) + torchvision's model.
keras.applications: a perturbed `keras.applications.ResNet50` (caffe, BGR) saved as its legacy
`.h5` file, published the same way, exported by `scripts/export.py --model resnet50 --weights
imagenet` (the default preset) with no flags; the reference is PIL's resize and crop +
keras.applications' `preprocess_input` + its model.

Tolerance: TensorFlow's antialiased bilinear resize and PIL's differ by 1.1-1.2 grey levels on
average (at most 12) on these photographs (same sizes and crop offsets: the evaluation pipeline
truncates and rounds as torchvision does). Measured on the centred logits (log-probabilities
minus their mean): max difference 0.146 of a 26.3 range (0.55%) for torchvision, 0.057 of
20.9 (0.27%) for keras.applications; the test allows 1% of the range and needs the same top-5
classes in the same order.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_classics as kc
from tests.helpers import REPO, perturb_weights
from tests.weights.support import publish, random_torchvision, save_published_torchvision

PHOTOS = ("china.jpg", "flower.jpg")
TOLERANCE = 0.01  # max |centred logit difference|, as a fraction of the logits' range


def photos() -> list[Path]:
    datasets = pytest.importorskip("sklearn.datasets", reason="pip install scikit-learn")
    return [Path(datasets.__file__).parent / "images" / name for name in PHOTOS]


def export_without_flags(model_arguments: list[str], directory: Path) -> dict[str, np.ndarray]:
    """scripts/export.py with `model_arguments` and no preprocessing flag -> the
    `serving_default` answer on the photographs' bytes."""
    main = runpy.run_path(str(REPO / "scripts" / "export.py"))["main"]
    main([*model_arguments, "--export-base", str(directory / "served"), "--no-warmup"])
    serving = tf.saved_model.load(str(directory / "served" / "1")).signatures["serving_default"]
    answer = serving(image_bytes=tf.constant([p.read_bytes() for p in photos()]))
    return {key: value.numpy() for key, value in answer.items()}


def centred(logits: np.ndarray) -> np.ndarray:
    return logits - logits.mean(axis=-1, keepdims=True)


def assert_same_predictions(served: dict[str, np.ndarray], reference_logits: np.ndarray):
    ours = centred(np.log(served["probabilities"].astype("float64")))  # softmax -> logits + c
    theirs = centred(reference_logits.astype("float64"))
    top5 = np.argsort(-theirs, axis=-1)[:, :5]
    np.testing.assert_array_equal(served["classes"], top5)  # top-1 and top-5, in order
    names = kc.weights.imagenet_class_names()
    assert [[n.decode() for n in row] for row in served["class_names"]] == [
        [names[i] for i in row] for row in top5
    ]
    difference, spread = np.abs(ours - theirs).max(), np.ptp(theirs)
    assert difference < TOLERANCE * spread, (difference, spread)


def test_torchvision_preset_to_serving_matches_torchvision(
    tmp_path, monkeypatch, keras_home, capsys
):
    import torch
    from PIL import Image

    from keras_classics.weights import import_torchvision

    torch.manual_seed(3)  # torchvision's initial kernels: the same model on every run
    source = random_torchvision("resnet18", seed=3)
    path = save_published_torchvision(source, tmp_path / "origin", "resnet18")
    publish(monkeypatch, "resnet18.tv_in1k", path)
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "torch", None)  # `import torch` fails: our reader is used
        model = kc.ResNet18(weights="resnet18.tv_in1k")
    model.save(tmp_path / "model.keras")  # the record goes with it
    served = export_without_flags(["--keras-model", str(tmp_path / "model.keras")], tmp_path)
    assert "preprocessing from the model's record (resnet18.tv_in1k): normalization torch" in (
        capsys.readouterr().out
    )
    weights = import_torchvision().models.ResNet18_Weights.IMAGENET1K_V1
    batch = torch.stack([weights.transforms()(Image.open(p).convert("RGB")) for p in photos()])
    with torch.no_grad():
        reference = source(batch).numpy()
    assert_same_predictions(served, reference)


def test_keras_applications_preset_to_serving_matches_keras_applications(
    tmp_path, monkeypatch, keras_home
):
    import h5py
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    peer = keras.applications.ResNet50(weights=None)
    perturb_weights(peer, np.random.default_rng(5))
    crops = reference_crops()
    inputs = keras.applications.resnet.preprocess_input(crops.copy())  # caffe: BGR, minus means
    spread_logits(peer, inputs)
    with h5py.File(tmp_path / "resnet50.h5", "w") as file:
        save_weights_to_hdf5_group(file, peer)
    publish(monkeypatch, "resnet50.keras_in1k", tmp_path / "resnet50.h5")
    served = export_without_flags(["--model", "resnet50", "--weights", "imagenet"], tmp_path)
    logits = keras.Model(peer.input, peer.get_layer("predictions").output)
    logits.get_layer("predictions").activation = None  # the same layer, before its softmax
    assert_same_predictions(served, np.asarray(logits.predict_on_batch(inputs)))


def reference_crops() -> np.ndarray:
    """PIL, as torchvision's Resize(256) + CenterCrop(224): RGB 0-255 float32 [2, 224, 224, 3]."""
    from PIL import Image

    crops = []
    for photo in photos():
        image = Image.open(photo).convert("RGB")
        scale = 256 / min(image.size)
        width, height = (max(int(side * scale), 256) for side in image.size)
        image = image.resize((width, height), Image.BILINEAR)
        left, top = round((width - 224) / 2), round((height - 224) / 2)
        crops.append(np.asarray(image.crop((left, top, left + 224, top + 224)), "float32"))
    return np.stack(crops)


def spread_logits(model: keras.Model, inputs: np.ndarray) -> None:
    """Rescales the classifier so the logits on `inputs` have standard deviation 3: perturbed
    random weights give logits in the thousands, whose softmax is one-hot in float32."""
    head = model.get_layer("predictions")
    features = np.asarray(keras.Model(model.input, head.input)(inputs, training=False))
    kernel, bias = head.get_weights()
    logits = features @ kernel + bias
    scale = 3.0 / logits.std()
    head.set_weights([kernel * scale, (bias - logits.mean()) * scale])
