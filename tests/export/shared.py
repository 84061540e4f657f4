"""What the export tests share: the main export (built once per test run, even across pytest-xdist
workers: the first worker to need it builds it under a file lock, the others read it), the
reference preprocessing, and small helpers."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

import keras_classics as kc
from keras_classics.data.evaluation import decode_image, preprocess_for_eval
from keras_classics.export import export_saved_model
from keras_classics.export.samples import sample_encoded
from tests.helpers import perturb_weights

# The main export: CIFAR ResNet-20 (ZeroPaddingShortcut, option A) at 32x32, resized to 37 and
# centre-cropped (eval_resize_size(32)), CIFAR-10 normalisation, non-ASCII class names.
IMAGE_SIZE = 32
NORMALIZATION = "cifar10"
CLASS_NAMES = [f"classe {i} é" for i in range(10)]
TOP_K = 3
# Encoded test images of different sizes and aspect ratios: (height, width, encoding).
IMAGES = ((60, 80, "jpeg"), (90, 50, "png"), (37, 37, "jpeg"))
# A real photograph (427x640 JPEG), shipped with scikit-learn.
PHOTOGRAPH = Path(__import__("sklearn.datasets").datasets.__file__).parent / "images/china.jpg"


def shared_once(tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], None]) -> Path:
    """A directory that `build` fills once per test run, shared by the xdist workers."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent  # the run's own directory
    directory = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "done").exists():
            directory.mkdir(exist_ok=True)
            build(directory)
            (directory / "done").touch()
    return directory


def reference_preprocess(
    encoded: list[bytes], image_size: int, normalization: str, resize_size: int | None = None
) -> np.ndarray:
    """The evaluation pipeline (eager), image by image: what the bytes signature must match."""
    return np.stack(
        [
            preprocess_for_eval(
                decode_image(image),
                image_size=image_size,
                resize_size=resize_size,
                normalization=normalization,
            ).numpy()
            for image in encoded
        ]
    )


def calibrate_head(model: keras.Model, x: np.ndarray) -> None:
    """Sets the classifier so that each logit has mean 0 and standard deviation 1 over `x`:
    with random weights the outputs hardly depend on the input, and near-constant or one-hot
    probabilities would hide differences between the export and the model."""
    head = model.get_layer("predictions")
    features = np.asarray(keras.Model(model.input, head.input)(x, training=False))
    kernel, _ = head.get_weights()
    logits = features @ kernel
    mean, std = logits.mean(axis=0), logits.std(axis=0)
    head.set_weights([kernel / std, -mean / std])


def build_main_export(directory: Path) -> None:
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    model = kc.get_model("resnet20")
    perturb_weights(model, rng)
    encoded = [sample_encoded(h, w, fmt, seed=i) for i, (h, w, fmt) in enumerate(IMAGES)]
    for i, data in enumerate(encoded):
        (directory / f"image{i}.{IMAGES[i][2]}").write_bytes(data)
    preprocessed = reference_preprocess(encoded, IMAGE_SIZE, NORMALIZATION)
    images = rng.normal(0, 1, (4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    calibrate_head(model, np.concatenate([images, preprocessed]))
    model.save(directory / "model.keras")
    export_saved_model(
        model,
        directory / "export",
        class_names=CLASS_NAMES,
        normalization=NORMALIZATION,
        top_k=TOP_K,
    )
    logits = keras.Model(model.inputs, model.get_layer("predictions").output)
    np.save(directory / "images.npy", images)
    np.save(directory / "encoded.npy", np.array(encoded, dtype=object))
    np.savez(
        directory / "reference.npz",
        images_probabilities=np.asarray(model(images, training=False)),
        images_logits=np.asarray(logits(images, training=False)),
        bytes_preprocessed=preprocessed,
        bytes_probabilities=np.asarray(model(preprocessed, training=False)),
    )
    (directory / "class_names.json").write_text(json.dumps(CLASS_NAMES))


def expected_top_k(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest probabilities per row, largest first."""
    return np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
