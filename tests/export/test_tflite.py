"""The TFLite (LiteRT) export: builtin ops only, the interpreter's outputs against the Keras
model on real photographs, the preprocessing record packed in the file, and export.py --tflite."""

from __future__ import annotations

import dataclasses
import os
import re
import runpy

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_classics as kc
from keras_classics.cli import run_script
from keras_classics.data.evaluation import decode_image, preprocess_encoded, preprocess_with_record
from keras_classics.export import export_saved_model, read_metadata
from keras_classics.export.tflite import (
    describe_tflite,
    export_tflite,
    read_tflite_metadata,
    read_tflite_record,
    tflite_runner,
)
from keras_classics.normalization import PreprocessingRecord
from tests.export.shared import CLASS_NAMES, PHOTOGRAPH, calibrate_head
from tests.helpers import REPO, perturb_weights

# Two real photographs (427x640 JPEGs shipped with scikit-learn).
PHOTOGRAPHS = (PHOTOGRAPH, PHOTOGRAPH.with_name("flower.jpg"))
# The interpreter (XNNPACK on CPU) against the Keras model, on probabilities. Measured
# 2026-11-30 (TF 2.21, docs/tflite.md): at most 3.0e-6 on ResNet-20 and ResNet-18, 2.9e-5 on
# the AlexNet with LRN; logits (standard deviation 1) within 2.6e-5 and 3.1e-4.
ATOL = 1e-4
ALEXNET_RECORD = PreprocessingRecord(
    "mean", 67, 77, class_names=("cat", "dog", "fox", "owl", "elk"), source="runs/tiny-alexnet"
)


def photographs(record: PreprocessingRecord) -> np.ndarray:
    """The photographs through the evaluation pipeline, as `record` says."""
    return np.stack(
        [
            preprocess_with_record(decode_image(path.read_bytes()), record).numpy()
            for path in PHOTOGRAPHS
        ]
    )


@pytest.fixture(scope="module")
def resnet20(main_export, tmp_path_factory):
    """(Keras model, .tflite path) of the shared export: CIFAR ResNet-20 with the zero-padding
    shortcut (option A), exported from arguments (the model has no record)."""
    path = export_tflite(main_export / "export", tmp_path_factory.mktemp("tflite") / "r20.tflite")
    return keras.saving.load_model(main_export / "model.keras"), path


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    """(Keras model, .tflite path): the paper AlexNet's convolutions (LRN, two towers) at 67x67
    with a Dense softmax head, carrying a record."""
    rng = np.random.default_rng(11)
    trunk = kc.AlexNet(include_top=False, pooling="avg", input_shape=(67, 67, 3))
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(trunk.output)
    model = keras.Model(trunk.input, outputs)
    perturb_weights(model, rng)
    # Calibrated on the photographs and noise of their mean and spread: on two images alone,
    # the head would divide by the tiny spread of their features and amplify rounding errors.
    pixels = photographs(ALEXNET_RECORD)
    noise = rng.normal(pixels.mean(), pixels.std(), (6, *pixels.shape[1:])).astype("float32")
    calibrate_head(model, np.concatenate([pixels, noise]))
    model = kc.attach_record(model, ALEXNET_RECORD)
    directory = tmp_path_factory.mktemp("alexnet")
    version_dir = export_saved_model(model, directory / "base", warmup=False)
    return model, export_tflite(version_dir, directory / "alexnet.tflite")


@pytest.mark.parametrize("name", ["resnet20", "alexnet"])
def test_interpreter_matches_keras_on_photographs(request, name):
    model, path = request.getfixturevalue(name)
    record = read_tflite_record(path)
    images = photographs(record)
    outputs = tflite_runner(path)(images=images)
    expected = np.asarray(model(images, training=False))
    np.testing.assert_allclose(outputs["probabilities"], expected, rtol=0, atol=ATOL)
    # The logits are the model's own: their softmax is its probabilities.
    softmax = np.asarray(keras.ops.softmax(outputs["logits"]))
    np.testing.assert_allclose(softmax, expected, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(outputs["classes"][:, 0], expected.argmax(axis=-1))
    names = np.array(record.class_names)[outputs["classes"]]
    decoded = [[name.decode() for name in row] for row in outputs["class_names"]]
    np.testing.assert_array_equal(decoded, names)  # UTF-8 strings, as the SavedModel's


def test_the_consumer_recipe_answers_as_the_server(main_export, resnet20):
    """The journey seam (docs/tflite.md, 'Preprocessing as the server does'): photograph bytes
    decoded as the server decodes them (libjpeg scaled decoding: china.jpg at 1/2 for resize
    37), preprocessed with the packed record, give the SavedModel bytes signature's answer."""
    _, path = resnet20
    record = read_tflite_record(path)
    encoded = PHOTOGRAPH.read_bytes()
    image = decode_image(encoded, min_side=record.resize_size)
    assert image.shape[:2] == (214, 320)  # 427x640 at 1/2: the scaled decode is exercised
    images = preprocess_encoded(encoded, record)[None].numpy()  # the recipe's one call
    outputs = tflite_runner(path)(images=images)
    served = tf.saved_model.load(str(main_export / "export" / "1")).signatures["serving_default"]
    expected = served(image_bytes=tf.constant([encoded]))["probabilities"].numpy()
    np.testing.assert_allclose(outputs["probabilities"], expected, rtol=0, atol=ATOL)


def test_the_alexnet_record_is_read_back_from_the_file(alexnet):
    _, path = alexnet
    record = read_tflite_record(path)
    assert "runs/tiny-alexnet" in record.source
    assert dataclasses.replace(record, source=ALEXNET_RECORD.source) == ALEXNET_RECORD


def test_a_record_from_export_arguments_is_the_saved_models(main_export, resnet20):
    _, path = resnet20
    record = read_tflite_record(path)
    assert record.to_dict() == read_metadata(main_export / "export" / "1")["preprocessing"]
    assert (record.normalization, record.image_size, record.resize_size) == ("cifar10", 32, 37)
    assert record.class_names == tuple(CLASS_NAMES)
    # The normalisation's numbers, for a consumer without keras_classics.
    normalizer = read_tflite_metadata(path)["normalizer"]
    pixels = np.random.default_rng(1).uniform(0, 255, (4, 4, 3))
    expected = (pixels - np.array(normalizer["mean"])) / np.array(normalizer["std"])
    assert normalizer["bgr"] is False
    np.testing.assert_allclose(record.normalizer.apply(pixels), expected)
    assert normalizer["mean"] != [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["resnet20", "alexnet"])
def test_custom_layers_convert_to_builtin_ops(request, capsys, name):
    _, path = request.getfixturevalue(name)
    tf.lite.experimental.Analyzer.analyze(model_path=str(path))
    ops = set(re.findall(r"Op#\d+ (\w+)\(", capsys.readouterr().out))
    assert "CONV_2D" in ops
    # Builtin ops are named in capitals (CONV_2D); Select TF ops (FlexScaleAndTranslate) and
    # custom ops are not.
    assert all(re.fullmatch(r"[A-Z0-9_]+", op) for op in ops), sorted(ops)
    if name == "alexnet":
        assert "RSQRT" in ops  # LocalResponseNormalization's x ** -0.75
    else:
        assert {"STRIDED_SLICE", "PAD"} <= ops  # the zero-padding shortcut (option A)


def test_an_op_outside_the_builtins_is_a_clear_error(tmp_path):
    """A determinant (TensorFlow's MatrixDeterminant: a Select TF op, not a builtin)."""
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.GlobalAveragePooling2D()(inputs)
    outer = keras.layers.Reshape((3, 1))(features) * keras.layers.Reshape((1, 3))(features)
    det = keras.layers.Reshape((1,))(keras.ops.linalg.det(outer + keras.ops.eye(3)))
    joined = keras.layers.Concatenate()([det, features])
    model = keras.Model(
        inputs, keras.layers.Dense(4, activation="softmax", name="predictions")(joined)
    )
    version_dir = export_saved_model(model, tmp_path, normalization="unit", warmup=False)
    with pytest.raises(ValueError, match="builtin ops \\(TF Select ops: MatrixDeterminant\\)"):
        export_tflite(version_dir, tmp_path / "det.tflite")
    assert not list(tmp_path.glob("*tflite*"))


def test_a_file_without_the_record_is_a_clear_error(tmp_path):
    path = tmp_path / "other.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    with pytest.raises(ValueError, match="not a file written by export_tflite"):
        read_tflite_record(path)


def export_main():
    return runpy.run_path(str(REPO / "scripts" / "export.py"))["main"]


def test_export_script_writes_a_tflite_that_loads(tmp_path, capsys):
    path = tmp_path / "new" / "resnet20.tflite"  # its directory is made, as the export base's
    argv = ["--model", "resnet20", "--model-option", "classes=4", "--normalization", "cifar10"]
    argv += ["--no-warmup", "--export-base", str(tmp_path / "base"), "--tflite", str(path)]
    assert run_script(export_main(), argv) == 0
    out = capsys.readouterr().out
    assert describe_tflite(path) in out
    assert "signature serving_images:\n  input  images: float32 [None, 32, 32, 3]\n" in out
    assert "  output probabilities: float32 [None, 4]\n" in out
    images = np.random.default_rng(0).normal(0, 1, (3, 32, 32, 3)).astype("float32")
    loaded = tf.saved_model.load(str(tmp_path / "base" / "1"))
    expected = loaded.signatures["serving_images"](images=tf.constant(images))["probabilities"]
    outputs = tflite_runner(path)(images=images)
    np.testing.assert_allclose(outputs["probabilities"], expected.numpy(), rtol=0, atol=ATOL)
    assert (
        read_tflite_record(path).to_dict()
        == read_metadata(tmp_path / "base" / "1")["preprocessing"]
    )


@pytest.mark.parametrize(
    ("tflite", "fragment"),
    [
        ("{tmp}/model.txt", "the TFLite file's name must end in '.tflite'"),
        ("{tmp}/a_file/model.tflite", "/a_file' is a file, not a directory"),
        ("{tmp}/a_file/new/model.tflite", "/a_file' is a file, not a directory"),
        ("{tmp}/dir.tflite", "/dir.tflite': it is a directory, not a file"),
        ("", "the TFLite file's path is empty"),
        # /proc takes no new files, even from root (whom permissions do not stop).
        ("/proc/model.tflite", "the directory '/proc' is not writable"),
        ("/proc/new/model.tflite", "the directory '/proc' is not writable"),
        ("{tmp}/locked/new/model.tflite", "/locked' is not writable"),
    ],
)
def test_a_bad_tflite_path_is_one_error_line(tmp_path, capsys, tflite, fragment):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "dir.tflite").mkdir()
    (tmp_path / "locked").mkdir(mode=0o555)
    if os.access(tmp_path / "locked", os.W_OK) and "locked" in tflite:
        pytest.skip("permissions do not stop root")
    argv = ["--export-base", str(tmp_path / "base"), "--tflite", tflite.format(tmp=tmp_path)]
    assert run_script(export_main(), argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: export.py: ") and fragment in err
    assert not (tmp_path / "base").exists()  # checked before anything is built or written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "dir.tflite", "locked"]
    assert not list((tmp_path / "dir.tflite").iterdir())
