"""The test double's TF Serving rules (tests/export/rest_double.py, serving_double.py): JSON
bodies parsed and answered as TF Serving does, malformed ones answered `{"error": ...}` with
its HTTP status, never raised."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export import client, client_rest
from tests.export.rest_double import RestError, format_predict_answer
from tests.export.rest_double import parse_predict_body as parse
from tests.export.serving_double import ServingDouble
from tests.export.shared import CLASS_NAMES, TOP_K

BYTES_SPEC = {"image_bytes": tf.TensorSpec([None], tf.string)}
IMAGES_SPEC = {"images": tf.TensorSpec([None, 2, 2, 3], tf.float32)}
PREDICT = "/v1/models/model:predict"


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [{"b64": "YQ=="}, {"b64": "YmM="}]},  # row, single input: bare values
        {"instances": [{"image_bytes": {"b64": "YQ=="}}, {"image_bytes": {"b64": "YmM="}}]},
        {"inputs": [{"b64": "YQ=="}, {"b64": "YmM="}]},  # columnar, single input: a bare value
        {"inputs": {"image_bytes": [{"b64": "YQ=="}, {"b64": "YmM="}]}},
        {"inputs": {"image_bytes": ["a", "bc"]}},  # plain strings are UTF-8 text
    ],
)
def test_parse_accepts_every_form_tf_serving_accepts(body):
    arrays, row_format = parse(json.dumps(body), BYTES_SPEC)
    assert row_format == ("instances" in body)
    assert list(arrays["image_bytes"]) == [b"a", b"bc"]


def test_parse_float_instances_stack_into_a_batch():
    instance = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    arrays, _ = parse({"instances": [instance.tolist(), (-instance).tolist()]}, IMAGES_SPEC)
    assert arrays["images"].dtype == np.float32
    np.testing.assert_array_equal(arrays["images"], np.stack([instance, -instance]))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        ([1, 2], "must be a JSON object"),
        ({"instances": [], "inputs": []}, "exactly one of 'instances'"),
        ({"signature_name": "serving_default"}, "exactly one of 'instances'"),
        ({"instances": []}, "non-empty list"),
        ({"instances": [{"images": 1}]}, "instance 0 names ['images']; expected ['image_bytes']"),
        ({"inputs": {"other": ["a"]}}, "'inputs' names ['other']"),
        ({"inputs": [{"b64": "!!"}]}, "invalid base64"),
        ({"inputs": [1, 2]}, "string tensor"),
        ({"inputs": "abc"}, "has shape []; the signature takes [None]"),
    ],
)
def test_parse_rejects_what_tf_serving_rejects(body, message):
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(RestError) as error:
        parse(text, BYTES_SPEC)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [[[[1, 2, 3]] * 2] * 2, [[1, 2, 3]]]}, "not a rectangular float32"),
        ({"instances": [[[["a", 2, 3]] * 2] * 2]}, "has dtype float32: got 'a'"),
        ({"inputs": np.zeros((1, 3, 2, 3)).tolist()}, "the signature takes [None, 2, 2, 3]"),
    ],
)
def test_parse_rejects_bad_float_inputs(body, message):
    with pytest.raises(RestError) as error:
        parse(body, IMAGES_SPEC)
    assert message in str(error.value)


def test_answers_follow_the_request_format():
    outputs = {
        "scores": np.array([[0.5], [0.25]], np.float32),
        "names": np.array([[b"caf\xc3\xa9"], [b"b"]], dtype=object),
        "image_bytes": np.array([b"\x00\x01", b"z"], dtype=object),
    }
    rows = format_predict_answer(outputs, row_format=True)
    assert rows == {
        "predictions": [
            {"image_bytes": {"b64": "AAE="}, "names": ["café"], "scores": [0.5]},
            {"image_bytes": {"b64": "eg=="}, "names": ["b"], "scores": [0.25]},
        ]
    }
    columns = format_predict_answer(outputs, row_format=False)
    assert columns["outputs"]["scores"] == [[0.5], [0.25]]
    single = {"scores": outputs["scores"]}
    assert format_predict_answer(single, True) == {"predictions": [[0.5], [0.25]]}
    assert format_predict_answer(single, False) == {"outputs": [[0.5], [0.25]]}


@pytest.fixture(scope="module")
def server(main_export):
    return ServingDouble(main_export / "export", "model")


def predict(server: ServingDouble, body, expected_status: int = 200) -> dict:
    """The double's answer to POSTing `body` (a dict is sent as JSON) to `:predict`."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    status, answer = server.rest("POST", PREDICT, data.encode() if isinstance(data, str) else data)
    assert status == expected_status, answer
    return answer


@pytest.fixture(scope="module")
def encoded(main_export):
    return list(np.load(main_export / "encoded.npy", allow_pickle=True))


@pytest.mark.parametrize("request_format", client.REST_FORMATS)
def test_double_answers_both_formats_like_the_signature(
    server, encoded, main_export, request_format
):
    answer = predict(server, client.rest_body(encoded, request_format=request_format))
    outputs = client_rest.rest_outputs(answer)
    assert ("predictions" in answer) == (request_format == "instances")
    reference = np.load(main_export / "reference.npz")["bytes_probabilities"]
    np.testing.assert_allclose(outputs["probabilities"], reference, rtol=0, atol=1e-5)
    labels = client.top_k_labels(outputs)
    top = np.argsort(-reference, axis=-1)[:, :TOP_K]
    assert [[name for name, _ in row] for row in labels] == [
        [CLASS_NAMES[i] for i in row] for row in top
    ]
    for row, probabilities in zip(labels, reference, strict=True):
        expected = np.sort(probabilities)[::-1][:TOP_K]
        np.testing.assert_allclose([score for _, score in row], expected, rtol=0, atol=1e-5)


def test_double_bytes_signature_by_default(server, main_export):
    encoded = np.load(main_export / "encoded.npy", allow_pickle=True)
    instances = [{"b64": base64.b64encode(e).decode()} for e in encoded]
    answer = predict(server, {"instances": instances})  # no signature_name
    probabilities = [row["probabilities"] for row in answer["predictions"]]
    reference = np.load(main_export / "reference.npz")["bytes_probabilities"]
    np.testing.assert_allclose(probabilities, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"signature_name": "nope", "instances": ["a"]}, '"nope" not found in signature def'),
        ({"signature_name": "serving_default", "instances": [{"b64": "aGVsbG8="}]}, "image"),
        ("[", "not JSON"),
        (b'{"instances": ["\xff"]}', "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ({"signature_name": ["serving_default"], "instances": ["a"]}, "must be a string"),
        ({"instances": []}, "must be a non-empty list"),
        ({"inputs": {"image_bytes": []}}, "empty batch"),
    ],
)
def test_double_answers_errors_as_the_server_does(server, body, message):
    answer = predict(server, body, expected_status=400)
    assert list(answer) == ["error"] and message in answer["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v1/models/other:predict", {"instances": ["a"]}, 404, "Servable not found"),
        ("POST", "/v1/models/model/versions/9:predict", {"instances": ["a"]}, 404, "(model, 9)"),
        ("GET", "/v1/models/model/labels/nope", None, 400, "Unrecognized servable version label"),
        ("POST", "/v1/models/model/versions/1/labels/x:predict", {}, 400, "Malformed request"),
        ("POST", "/v1/models/model:explain", {}, 400, "Malformed request: POST"),
        ("PUT", "/v1/models/model", {}, 400, "Malformed request: PUT"),
        ("POST", "/v1/models/model:classify", {"instances": []}, 400, "'examples' is expected"),
        ("POST", "/v1/models/model:classify", {"examples": []}, 400, "non-empty list"),
        ("POST", "/v1/models/model:classify", {"examples": [{"x": [1, "a"]}]}, 400, "mixes"),
        ("POST", "/v1/models/model:classify", {"examples": [{"x": [[1]]}]}, 400, "JSON type"),
        ("POST", "/v1/models/model:classify", {"examples": [3]}, 400, "must be JSON object"),
        ("POST", "/v1/models/model:regress", {"examples": [{"x": 1.0}]}, 400, "Expected tensorf"),
        (
            "POST",
            "/v1/models/model:classify",
            {"signature_name": "serving_default", "examples": [{"image/encoded": "a"}]},
            400,
            "Expected tensorflow/serving/classify signature method_name",
        ),
        (
            "POST",
            "/v1/models/model:classify",
            {"signature_name": "classify", "examples": [{"image/encoded": {"b64": "aGk="}}]},
            400,
            "not a JPEG, PNG",
        ),
    ],
)
def test_double_answers_bad_requests_with_the_servers_status(
    server, method, path, body, status, message
):
    data = b"" if body is None else json.dumps(body).encode()
    code, answer = server.rest(method, path, data)
    assert (code, list(answer)) == (status, ["error"]) and message in answer["error"], answer
