"""The main export (CIFAR ResNet-20, option A shortcuts) checked with TensorFlow's own tools in
fresh processes: tf.saved_model.load, the TF1 graph-mode loader, and saved_model_cli."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export import read_metadata
from tests.export.shared import (
    CLASS_NAMES,
    IMAGE_SIZE,
    NORMALIZATION,
    PHOTOGRAPH,
    TOP_K,
    expected_top_k,
    reference_preprocess,
    shared_once,
)
from tests.helpers import run_python

SAVED_MODEL_CLI = ("-m", "tensorflow.python.tools.saved_model_cli")
ATOL = 1e-5  # the bound on |export - Keras model|


@pytest.fixture(scope="session")
def fresh(main_export, tmp_path_factory, worker_id):
    """outputs.npz and results.json of tests/export/fresh_check.py, run once."""

    def build(out: Path) -> None:
        run_python("tests/export/fresh_check.py", str(main_export), str(out), str(PHOTOGRAPH))

    out = shared_once(tmp_path_factory, worker_id, "fresh_check", build)
    return np.load(out / "outputs.npz", allow_pickle=True), json.loads(
        (out / "results.json").read_text()
    )


@pytest.fixture(scope="module")
def reference(main_export):
    return np.load(main_export / "reference.npz")


def assert_predictions(outputs, probabilities: np.ndarray) -> None:
    """Probabilities within ATOL of the reference, and the top-k outputs consistent with them."""
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(outputs["classes"], expected_top_k(probabilities, TOP_K))
    names = np.array(CLASS_NAMES)[outputs["classes"]]
    np.testing.assert_array_equal(np.char.decode(outputs["class_names"].astype(bytes)), names)
    taken = np.take_along_axis(outputs["probabilities"], outputs["classes"], axis=-1)
    np.testing.assert_array_equal(outputs["scores"], taken)


def prefixed(arrays, prefix: str) -> dict[str, np.ndarray]:
    return {k.split("/", 1)[1]: arrays[k] for k in arrays.files if k.startswith(prefix + "/")}


def test_reference_probabilities_are_spread_out(reference):
    # Near-one-hot outputs would make the 1e-5 comparisons below weak.
    for key in ("images_probabilities", "bytes_probabilities"):
        assert reference[key].max() < 0.95
        assert np.abs(np.diff(reference[key], axis=0)).max() > 0.05  # rows differ


@pytest.mark.parametrize("loader", ["images", "graph_images"])
def test_float_signature_equals_the_keras_model(fresh, reference, loader):
    arrays, _ = fresh
    assert_predictions(prefixed(arrays, loader), reference["images_probabilities"])


@pytest.mark.parametrize("loader", ["bytes", "graph_bytes"])
def test_bytes_signature_equals_evaluation_pipeline_plus_model(fresh, reference, loader):
    arrays, _ = fresh
    assert_predictions(prefixed(arrays, loader), reference["bytes_probabilities"])


def test_uint8_signature_equals_bytes_signature_on_a_photograph(fresh):
    arrays, _ = fresh
    tensor, encoded = prefixed(arrays, "photo_tensor"), prefixed(arrays, "photo_bytes")
    assert sorted(tensor) == sorted(encoded)
    for key in tensor:
        np.testing.assert_array_equal(tensor[key], encoded[key], err_msg=key)
    assert np.ptp(tensor["logits"]) > 1  # a real answer, not a constant one


@pytest.mark.parametrize("loader", ["images", "bytes", "photo_tensor"])
def test_logits_are_the_models_pre_softmax_values(fresh, reference, loader):
    outputs = prefixed(fresh[0], loader)
    softmax = tf.nn.softmax(outputs["logits"]).numpy()
    np.testing.assert_allclose(softmax, outputs["probabilities"], rtol=0, atol=1e-6)
    if loader == "images":  # the Keras model's `predictions` layer (before its softmax)
        np.testing.assert_allclose(outputs["logits"], reference["images_logits"], atol=ATOL)


def test_bytes_comparison_would_see_a_different_pipeline(main_export, fresh, reference):
    """The test above can fail: skipping the centre crop (resize straight to 32) changes the
    probabilities by far more than its tolerance."""
    model = keras.saving.load_model(main_export / "model.keras")
    encoded = list(np.load(main_export / "encoded.npy", allow_pickle=True))
    no_crop = reference_preprocess(encoded, IMAGE_SIZE, NORMALIZATION, resize_size=IMAGE_SIZE)
    np.testing.assert_allclose(  # the saved model file is the exported model
        np.asarray(model(reference["bytes_preprocessed"], training=False)),
        reference["bytes_probabilities"],
        rtol=0,
        atol=1e-6,
    )
    other = np.asarray(model(no_crop, training=False))
    assert np.abs(other - fresh[0]["bytes/probabilities"]).max() > 100 * ATOL


def test_classify_signature_answers_names_and_scores(fresh):
    arrays, _ = fresh
    np.testing.assert_array_equal(arrays["classify/classes"], arrays["bytes/class_names"])
    np.testing.assert_array_equal(arrays["classify/scores"], arrays["bytes/scores"])


def test_loaded_signatures_have_the_documented_names_and_specs(fresh):
    _, results = fresh
    predict_outputs = {
        "logits": ["float32", [None, 10]],
        "probabilities": ["float32", [None, 10]],
        "classes": ["int32", [None, TOP_K]],
        "class_names": ["string", [None, TOP_K]],
        "scores": ["float32", [None, TOP_K]],
    }
    assert results["signatures"] == {
        "serving_default": {
            "inputs": {"image_bytes": ["string", [None]]},
            "outputs": predict_outputs,
        },
        "image_tensor": {
            "inputs": {"image_tensor": ["uint8", [None, None, None, 3]]},
            "outputs": predict_outputs,
        },
        "serving_images": {
            "inputs": {"images": ["float32", [None, IMAGE_SIZE, IMAGE_SIZE, 3]]},
            "outputs": predict_outputs,
        },
        "classify": {
            "inputs": {"inputs": ["string", [None]]},
            "outputs": {"classes": ["string", [None, TOP_K]], "scores": ["float32", [None, TOP_K]]},
        },
    }


def test_warmup_requests_parse_and_are_answered(fresh):
    _, results = fresh
    summary = [
        (r["kind"], r["signature"], *next(iter(r["inputs"].values()))) for r in results["warmup"]
    ]
    assert summary == [
        ("predict_log", "serving_default", "string", [1]),
        ("predict_log", "serving_default", "string", [2]),
        ("predict_log", "image_tensor", "uint8", [1, 120, 160, 3]),
        ("predict_log", "serving_images", "float32", [1, IMAGE_SIZE, IMAGE_SIZE, 3]),
        ("classify_log", "classify", "string", [1]),
    ]
    for record in results["warmup"]:
        batch = next(iter(record["inputs"].values()))[1][0]
        assert record["finite"]
        assert all(shape[0] == batch for shape in record["outputs"].values())


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (
            "not_an_image",
            "not a JPEG, PNG, GIF, BMP, WebP or JPEG XL image, at these indices:] [1]",
        ),
        ("empty", "image_bytes holds empty strings or bytes that are not a JPEG"),
        ("empty_batch", "image_bytes is an empty batch: send at least one image"),
        ("truncated_jpeg", "Invalid JPEG data"),
    ],
)
def test_bad_bytes_give_invalid_argument_and_serving_goes_on(fresh, label, message):
    _, results = fresh
    error = results["bad_bytes"][label]
    assert error["type"] == "InvalidArgumentError"
    assert message in error["message"]
    assert error["after_max_diff"] == 0.0  # the next valid request gets the same answer


@pytest.mark.parametrize("case", ["16x16", "1_channel"])
def test_wrong_float_shape_gives_a_clear_error(fresh, case):
    error = fresh[1]["bad_images"][case]
    assert error["type"] == "InvalidArgumentError"
    assert f"images must have shape [batch, {IMAGE_SIZE}, {IMAGE_SIZE}, 3]" in error["message"]


def test_graph_mode_session_rejects_bad_requests_clearly(fresh):
    _, results = fresh
    assert results["graph_bad_images"]["type"] == "InvalidArgumentError"
    assert "images must have shape [batch, 32, 32, 3]" in results["graph_bad_images"]["message"]
    assert results["graph_bad_bytes"]["type"] == "InvalidArgumentError"
    assert (
        "not a JPEG, PNG, GIF, BMP, WebP or JPEG XL image" in results["graph_bad_bytes"]["message"]
    )


def parse_show_all(text: str) -> dict[str, dict]:
    """`saved_model_cli show --all` -> {signature: {"inputs"/"outputs": {name: (dtype, shape)},
    "method": name}}."""
    signatures: dict[str, dict] = {}
    current, side, tensor = None, None, None
    for line in text.splitlines():
        if match := re.match(r"^signature_def\['(.+)'\]:$", line):
            current = signatures.setdefault(match[1], {"inputs": {}, "outputs": {}})
        elif current is None:
            continue
        elif match := re.match(r"^\s+(inputs|outputs)\['(.+)'\] tensor_info:$", line):
            side, tensor = match[1], match[2]
            current[side][tensor] = {}
        elif match := re.match(r"^\s+(dtype|shape): (.+)$", line):
            current[side][tensor][match[1]] = match[2]
        elif match := re.match(r"^\s+Method name is: (.*)$", line):
            current["method"] = match[1]
    return signatures


def test_saved_model_cli_show_lists_the_documented_signatures(main_export):
    text = run_python(*SAVED_MODEL_CLI, "show", "--dir", str(main_export / "export" / "1"), "--all")
    signatures = parse_show_all(text)
    k = TOP_K
    predict = {
        "logits": {"dtype": "DT_FLOAT", "shape": "(-1, 10)"},
        "probabilities": {"dtype": "DT_FLOAT", "shape": "(-1, 10)"},
        "classes": {"dtype": "DT_INT32", "shape": f"(-1, {k})"},
        "class_names": {"dtype": "DT_STRING", "shape": f"(-1, {k})"},
        "scores": {"dtype": "DT_FLOAT", "shape": f"(-1, {k})"},
    }
    assert signatures["serving_images"] == {
        "inputs": {"images": {"dtype": "DT_FLOAT", "shape": "(-1, 32, 32, 3)"}},
        "outputs": predict,
        "method": "tensorflow/serving/predict",
    }
    assert signatures["serving_default"] == {
        "inputs": {"image_bytes": {"dtype": "DT_STRING", "shape": "(-1)"}},
        "outputs": predict,
        "method": "tensorflow/serving/predict",
    }
    assert signatures["image_tensor"] == {
        "inputs": {"image_tensor": {"dtype": "DT_UINT8", "shape": "(-1, -1, -1, 3)"}},
        "outputs": predict,
        "method": "tensorflow/serving/predict",
    }
    assert signatures["classify"] == {
        "inputs": {"inputs": {"dtype": "DT_STRING", "shape": "(-1)"}},
        "outputs": {
            "classes": {"dtype": "DT_STRING", "shape": f"(-1, {k})"},
            "scores": {"dtype": "DT_FLOAT", "shape": f"(-1, {k})"},
        },
        "method": "tensorflow/serving/classify",
    }
    assert set(signatures) == {
        "serving_default",
        "image_tensor",
        "serving_images",
        "classify",
        "__saved_model_init_op",
    }


@pytest.mark.parametrize(
    ("signature", "input_file", "reference_key"),
    [
        ("serving_images", "images=images.npy", "images_probabilities"),
        ("serving_default", "image_bytes=encoded.npy", "bytes_probabilities"),
    ],
)
def test_saved_model_cli_run_equals_the_keras_model(
    main_export, reference, tmp_path, signature, input_file, reference_key
):
    name, file = input_file.split("=")
    run_python(
        *SAVED_MODEL_CLI,
        "run",
        "--dir",
        str(main_export / "export" / "1"),
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--inputs",
        f"{name}={main_export / file}",
        "--outdir",
        str(tmp_path),
    )
    outputs = {p.stem: np.load(p, allow_pickle=True) for p in tmp_path.glob("*.npy")}
    assert sorted(outputs) == ["class_names", "classes", "logits", "probabilities", "scores"]
    assert_predictions(outputs, reference[reference_key])


def test_metadata_and_no_stale_fingerprint(main_export):
    version_dir = main_export / "export" / "1"
    metadata = read_metadata(version_dir)
    assert metadata["image_size"] == IMAGE_SIZE
    assert metadata["resize_size"] == 37  # eval_resize_size(32): 32 / 0.875
    assert metadata["normalization"] == NORMALIZATION
    assert metadata["class_names"] == CLASS_NAMES
    assert (metadata["top_k"], metadata["softmax_logits"], metadata["version"]) == (TOP_K, False, 1)
    # saved_model.pb was edited (classify method name): the fingerprint of the unedited file,
    # which TensorFlow has no public writer for, is not left behind.
    assert not (version_dir / "fingerprint.pb").exists()
