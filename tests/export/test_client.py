"""Requests as clients build them (REST JSON, gRPC protos) and TF Serving's REST rules, answered
locally against the main export."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export import client
from keras_classics.export.rest import LocalServer, RestError, format_predict_answer
from keras_classics.export.rest import parse_predict_body as parse
from tests.export.shared import CLASS_NAMES, TOP_K

BYTES_SPEC = {"image_bytes": tf.TensorSpec([None], tf.string)}
IMAGES_SPEC = {"images": tf.TensorSpec([None, 2, 2, 3], tf.float32)}


def test_rest_bodies_in_both_formats():
    images = [b"\xff\xd8first", b"\x89PNGsecond"]
    rows = client.rest_body(images)
    columns = client.rest_body(images, request_format="inputs", signature_name="other")
    encoded = [{"b64": base64.b64encode(i).decode()} for i in images]
    assert rows == {"signature_name": "serving_default", "instances": encoded}
    assert columns == {"signature_name": "other", "inputs": {"image_bytes": encoded}}
    assert json.loads(json.dumps(rows)) == rows  # plain JSON
    with pytest.raises(ValueError, match=r"choose one of \['instances', 'inputs'\]"):
        client.rest_body(images, request_format="rows")


def test_rest_url():
    assert client.rest_url("h", 8501, "resnet") == "http://h:8501/v1/models/resnet:predict"
    url = client.rest_url("h", 1, "m", version=3, verb="classify")
    assert url == "http://h:1/v1/models/m/versions/3:classify"


def test_grpc_predict_request_fields():
    request = client.bytes_predict_request([b"abc", b"\x00\xff"], model_name="resnet", version=4)
    assert request.model_spec.name == "resnet"
    assert request.model_spec.signature_name == "serving_default"
    assert request.model_spec.version.value == 4
    assert list(request.inputs) == ["image_bytes"]
    proto = request.inputs["image_bytes"]
    assert proto.dtype == tf.string.as_datatype_enum
    assert [d.size for d in proto.tensor_shape.dim] == [2]
    assert list(proto.string_val) == [b"abc", b"\x00\xff"]
    images = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    request = client.predict_request({"images": images}, signature_name="serving_images")
    assert not request.HasField("model_spec") or not request.model_spec.HasField("version")
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["images"]), images)


def test_grpc_classify_request_holds_one_example_per_image():
    request = client.classify_request([b"one", b"two"], model_name="m")
    examples = request.input.example_list.examples
    assert request.model_spec.signature_name == "classify"
    assert [e.features.feature["image/encoded"].bytes_list.value[0] for e in examples] == [
        b"one",
        b"two",
    ]


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
    return LocalServer(main_export / "export" / "1")


@pytest.fixture(scope="module")
def encoded(main_export):
    return list(np.load(main_export / "encoded.npy", allow_pickle=True))


@pytest.mark.parametrize("request_format", client.REST_FORMATS)
def test_local_server_answers_both_formats_like_the_signature(
    server, encoded, main_export, request_format
):
    body = json.dumps(client.rest_body(encoded, request_format=request_format))
    answer = server.predict(body)
    outputs = client.rest_outputs(answer)
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


def test_local_server_bytes_signature_by_default(server, main_export):
    encoded = np.load(main_export / "encoded.npy", allow_pickle=True)
    instances = [{"b64": base64.b64encode(e).decode()} for e in encoded]
    answer = server.predict(json.dumps({"instances": instances}))  # no signature_name
    probabilities = [row["probabilities"] for row in answer["predictions"]]
    reference = np.load(main_export / "reference.npz")["bytes_probabilities"]
    np.testing.assert_allclose(probabilities, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"signature_name": "nope", "instances": ["a"]}, "signature 'nope' not found"),
        ({"signature_name": "serving_default", "instances": [{"b64": "aGVsbG8="}]}, "image"),
        ("[", "not JSON"),
        (b'{"instances": ["\xff"]}', "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ({"signature_name": ["serving_default"], "instances": ["a"]}, "must be a string"),
        ({"instances": []}, "must be a non-empty list"),
        ({"inputs": {"image_bytes": []}}, "empty batch"),
    ],
)
def test_local_server_answers_errors_as_the_server_does(server, body, message):
    answer = server.predict(body if isinstance(body, (str, bytes)) else json.dumps(body))
    assert list(answer) == ["error"] and message in answer["error"]


def test_rest_outputs_rejects_errors_and_unnamed_answers():
    with pytest.raises(RuntimeError, match="boom"):
        client.rest_outputs({"error": "boom"})
    with pytest.raises(ValueError, match="carries no output names"):
        client.rest_outputs({"predictions": [[0.1, 0.9]]})
