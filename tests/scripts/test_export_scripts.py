"""scripts/export.py, scripts/predict.py (local mode, both REST formats) and
`python -m benchmarks.export` as a user runs them, on a small CIFAR ResNet-20."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.cli import run_script
from keras_classics.export.samples import sample_encoded
from tests.export.shared import shared_once
from tests.helpers import REPO, run_python

CLASS_NAMES = ["airplane", "automobile", "bird", "chat noir"]  # a name with a space


def _export(directory: Path) -> None:
    (directory / "classes.txt").write_text("\n".join(CLASS_NAMES) + "\n\n")
    (directory / "base" / "1").mkdir(parents=True)  # an older version (empty here)
    out = run_python(
        "scripts/export.py", "--model", "resnet20", "--model-option", "classes=4",
        "--class-names", str(directory / "classes.txt"), "--top-k", "2", "--version", "3",
        "--normalization", "cifar10", "--resize-size", "32",
        "--export-base", str(directory / "base"),
    )  # fmt: skip
    (directory / "stdout.txt").write_text(out)
    (directory / "cat.jpg").write_bytes(sample_encoded(375, 500, "jpeg", seed=5))
    (directory / "dog.png").write_bytes(sample_encoded(64, 48, "png", seed=6))
    (directory / "broken.jpg").write_bytes(b"not an image at all")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, worker_id) -> Path:
    return shared_once(tmp_path_factory, worker_id, "export_script", _export)


def test_export_prints_the_version_directory_and_signatures(exported):
    out = (exported / "stdout.txt").read_text()
    assert f"exported resnet20 to {exported / 'base' / '3'}" in out
    assert "signature serving_default:\n  input  image_bytes: string [None]\n" in out
    assert "  input  images: float32 [None, 32, 32, 3]\n" in out
    assert "  output class_names: string [None, 2]\n" in out
    assert "  output probabilities: float32 [None, 4]\n" in out
    assert "signature classify:\n  input  inputs: string [None]\n" in out


def expected_lines(exported: Path, files: list[str]) -> list[str]:
    """What predict.py must print, from the bytes signature called directly."""
    loaded = tf.saved_model.load(str(exported / "base" / "3"))
    images = [(exported / f).read_bytes() for f in files]
    outputs = loaded.signatures["serving_default"](image_bytes=tf.constant(images))
    probabilities = outputs["probabilities"].numpy()
    lines = []
    for path, row in zip(files, probabilities, strict=True):
        top = np.argsort(-row)[:2]
        labels = ", ".join(f"{CLASS_NAMES[i]} ({row[i]:.4f})" for i in top)
        lines.append(f"{exported / path}: {labels}")
    return lines


def test_predict_locally_with_the_instances_body(exported):
    files = ["cat.jpg", "dog.png"]
    out = run_python(
        "scripts/predict.py", *[str(exported / f) for f in files], "--show-body",
        "--saved-model", str(exported / "base"),  # the base path: its newest version, 3
    )  # fmt: skip
    body, *lines = out.strip().splitlines()
    assert body.startswith('{"signature_name": "serving_default", "instances": [{"b64": "/9j/')
    assert lines == expected_lines(exported, files)


def test_predict_locally_names_the_bytes_signatures(exported):
    with pytest.raises(ValueError, match=r"choose one of \['serving_default'\]$"):
        predict_main()(
            [str(exported / "cat.jpg"), "--saved-model", str(exported / "base"),
             "--signature", "serving_images"]
        )  # fmt: skip


def test_predict_locally_loads_the_version_asked(exported):
    # base/1 is an empty older version: asking for it must load it (and fail), not version 3.
    with pytest.raises(OSError, match=r"base/1"):
        predict_main()(
            [str(exported / "cat.jpg"), "--saved-model", str(exported / "base"), "--version", "1"]
        )


def predict_main():
    return runpy.run_path(str(REPO / "scripts" / "predict.py"))["main"]


def test_predict_locally_with_the_inputs_body(exported, capsys):
    files = ["dog.png", "cat.jpg"]
    predict_main()(
        [*[str(exported / f) for f in files], "--format", "inputs", "--show-body",
         "--saved-model", str(exported / "base" / "3")]
    )  # fmt: skip
    body, *lines = capsys.readouterr().out.strip().splitlines()
    assert body.startswith('{"signature_name": "serving_default", "inputs": {"image_bytes": [{')
    assert lines == expected_lines(exported, files)


def test_predict_reports_the_signatures_error(exported):
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"not a JPEG, PNG, GIF, BMP, WebP or JPEG XL image"
    ):
        predict_main()(
            [str(exported / "broken.jpg"), "--saved-model", str(exported / "base" / "3")]
        )


def test_benchmark_export_prints_latency_throughput_and_overhead():
    out = run_python(
        "-m", "benchmarks.export", "--model", "resnet20", "--model-option", "classes=4",
        "--normalization", "cifar10", "--resize-size", "32", "--iterations", "3",
        "--batch-size", "4", "--batch-iterations", "2", "--warmup", "1",
    )  # fmt: skip
    rows = re.findall(r"^(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert [row[0] for row in rows] == [
        "Keras model.predict_on_batch, preprocessed input",
        "export serving_images, preprocessed input",
        "export serving_default, JPEG bytes",
    ], out
    keras_row, tensor_row, bytes_row = ([float(v) for v in row[1:]] for row in rows)
    for p50, p99, throughput in (keras_row, tensor_row, bytes_row):
        assert 0 < p50 <= p99 and throughput > 0
    ratios = re.findall(r"^overhead bytes / (\w+): latency p50 ([\d.]+)x", out, re.M)
    assert [name for name, _ in ratios] == ["keras", "tensor"]
    for (_, ratio), reference in zip(ratios, (keras_row, tensor_row), strict=True):
        printed = bytes_row[0] / reference[0]  # from p50s printed to 0.01 ms
        assert float(ratio) == pytest.approx(printed, rel=0.05, abs=0.01)


@pytest.fixture(scope="module")
def local_server(exported):
    from tests.export.serving_double import ServingDouble

    return ServingDouble(exported / "base", "cifar")  # the newest version, 3


@pytest.mark.parametrize("request_format", ["instances", "inputs"])
def test_predict_over_http(exported, local_server, capsys, request_format):
    from tests.export.fake_servers import rest_server

    files = ["cat.jpg", "dog.png"]
    with rest_server(local_server) as (port, received):
        predict_main()(
            [*[str(exported / f) for f in files], "--model-name", "cifar", "--version", "3",
             "--host", "127.0.0.1", "--rest-port", str(port), "--format", request_format]
        )  # fmt: skip
    assert [r["path"] for r in received] == ["/v1/models/cifar/versions/3:predict"]
    assert request_format in received[0]["body"]
    assert capsys.readouterr().out.strip().splitlines() == expected_lines(exported, files)


def test_predict_over_http_reports_the_servers_error(exported, local_server):
    from tests.export.fake_servers import rest_server

    with rest_server(local_server) as (port, _), pytest.raises(OSError) as error:
        predict_main()([str(exported / "cat.jpg"), "--model-name", "other",
                        "--host", "127.0.0.1", "--rest-port", str(port)])  # fmt: skip
    assert "answered HTTP 404" in str(error.value) and "Servable not found" in str(error.value)


def test_predict_over_grpc(exported, local_server, capsys):
    from tests.export.fake_servers import grpc_server

    files = ["dog.png", "cat.jpg"]
    with grpc_server(local_server) as (port, received):
        predict_main()(
            [*[str(exported / f) for f in files], "--protocol", "grpc", "--model-name", "cifar",
             "--host", "127.0.0.1", "--grpc-port", str(port)]
        )  # fmt: skip
    (request,) = received
    assert (request.model_spec.name, request.model_spec.signature_name) == (
        "cifar",
        "serving_default",
    )
    assert not request.model_spec.HasField("version")
    assert list(request.inputs["image_bytes"].string_val) == [
        (exported / f).read_bytes() for f in files
    ]
    assert capsys.readouterr().out.strip().splitlines() == expected_lines(exported, files)


def test_export_refuses_a_flag_that_contradicts_the_models_record(tmp_path, capsys):
    import keras_classics as kc
    from keras_classics.normalization import PreprocessingRecord

    record = PreprocessingRecord("cifar10", 32, 32, source="runs/digits")
    kc.attach_record(kc.ResNet20(), record).save(tmp_path / "model.keras")
    main = runpy.run_path(str(REPO / "scripts" / "export.py"))["main"]
    status = run_script(main, ["--keras-model", str(tmp_path / "model.keras"), "--normalization",
                               "mean", "--export-base", str(tmp_path / "base")])  # fmt: skip
    assert status == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1  # one line, no traceback
    assert error.startswith("error: export.py: the export arguments contradict the")
    assert "(from runs/digits): normalization='mean' but the record says 'cifar10'" in error
    assert "--override-record" in error and not (tmp_path / "base").exists()


def test_predict_with_a_keras_model_uses_its_record(exported, tmp_path, capsys):
    import keras

    import keras_classics as kc
    from keras_classics.data.evaluation import decode_image, preprocess_with_record
    from keras_classics.normalization import PreprocessingRecord

    record = PreprocessingRecord("cifar10", 32, 40, class_names=("cat", "dog", "owl"))
    model = kc.attach_record(kc.ResNet20(classes=3), record)
    model.save(tmp_path / "model.keras")
    files = [str(exported / "cat.jpg"), str(exported / "dog.png")]
    predict_main()([*files, "--keras-model", str(tmp_path / "model.keras"), "--top-k", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    inputs = np.stack(
        [preprocess_with_record(decode_image(Path(f).read_bytes()), record) for f in files]
    )
    probabilities = np.asarray(model.predict_on_batch(inputs))
    for path, line, row in zip(files, lines, probabilities, strict=True):
        top = np.argsort(-row)[:2]
        assert line == f"{path}: " + ", ".join(
            f"{record.class_names[i]} ({row[i]:.4f})" for i in top
        )
    keras.Model(model.input, model.output).save(tmp_path / "bare.keras")
    with pytest.raises(ValueError, match="carries no preprocessing record"):
        predict_main()([files[0], "--keras-model", str(tmp_path / "bare.keras")])
    # The seam: a .keras model and its export answer alike on a photograph large enough for
    # the bytes signature's scaled JPEG decode (375 >= 4 x 40 pixels: decoded at 1/2). A linear
    # classifier, whose scores move with the pixels (a full-size decode moves them by ~7e-3).
    from keras_classics.export import export_saved_model

    inputs = keras.Input((32, 32, 3))
    kernel = keras.initializers.RandomNormal(0, 0.02, seed=1)
    head = keras.layers.Dense(3, "softmax", kernel_initializer=kernel, name="predictions")
    linear = kc.attach_record(keras.Model(inputs, head(keras.layers.Flatten()(inputs))), record)
    linear.save(tmp_path / "linear.keras")
    export_saved_model(linear, tmp_path / "base", top_k=3, warmup=False)
    script = runpy.run_path(str(REPO / "scripts" / "predict.py"))
    photo = [("cat.jpg", Path(files[0]).read_bytes())]
    local = script["predict_with_record"](str(tmp_path / "linear.keras"), photo, 3)
    served = script["predict_with_saved_model"](
        str(tmp_path / "base"), None, "serving_default", [photo[0][1]]
    )
    scores = [score for _, _, score in local[0]]
    np.testing.assert_allclose(scores, served["scores"][0], rtol=0, atol=1e-5)
    # No --top-k with fewer classes than the default 5: every class, best first.
    predict_main()([files[0], "--keras-model", str(tmp_path / "model.keras")])
    assert capsys.readouterr().out.count("(") == 3
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a JPEG")
    broken = str(tmp_path / "broken.jpg")
    with pytest.raises(ValueError, match=f"^{broken}: "):  # the file is named
        predict_main()([files[0], broken, "--keras-model", str(tmp_path / "model.keras")])
