"""Requests as clients build them (REST URLs and JSON bodies, gRPC protos) and the parsers of
TF Serving's answers, without a server (tests/export/test_client_api.py sends them)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export import client, client_rest


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


def test_rest_body_without_a_signature_name():
    assert client.rest_body([b"a"], signature_name=None) == {"instances": [{"b64": "YQ=="}]}


@pytest.mark.parametrize(
    ("version", "label", "verb", "url"),
    [
        (None, None, "predict", "http://h:1/v1/models/m:predict"),
        (3, None, "classify", "http://h:1/v1/models/m/versions/3:classify"),
        (None, "stable", "regress", "http://h:1/v1/models/m/labels/stable:regress"),
        (None, None, "status", "http://h:1/v1/models/m"),
        (7, None, "status", "http://h:1/v1/models/m/versions/7"),
        (None, "a b/c", "metadata", "http://h:1/v1/models/m/labels/a%20b%2Fc/metadata"),
    ],
)
def test_rest_url(version, label, verb, url):
    assert client.rest_url("h", 1, "m", version, verb, label=label) == url


@pytest.mark.parametrize(
    ("version", "label", "verb", "message"),
    [
        (1, "stable", "predict", r"give a version \(1\) or a version label \('stable'\), not both"),
        ("1", None, "predict", "a version is a whole number; got '1'"),
        (None, "", "predict", "must not be empty"),
        (None, None, "explain", r"choose one of \['predict', 'classify', 'regress', 'status'"),
    ],
)
def test_rest_url_rejects(version, label, verb, message):
    with pytest.raises(ValueError, match=message):
        client.rest_url("h", 1, "m", version, verb, label=label)


def test_classify_and_regress_bodies():
    body = client.classify_body([b"ab", b"c"])
    assert body == {
        "signature_name": "classify",
        "examples": [{"image/encoded": {"b64": "YWI="}}, {"image/encoded": {"b64": "Yw=="}}],
    }
    body = client.examples_body([{"x": 1.0}], signature_name=None, context={"unit": "cm"})
    assert body == {"examples": [{"x": 1.0}], "context": {"unit": "cm"}}


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


def test_grpc_requests_name_a_version_label():
    request = client.bytes_predict_request([b"a"], model_name="m", label="canary")
    assert request.model_spec.version_label == "canary"
    assert not request.model_spec.HasField("version")
    assert client.classify_request([b"a"], label="canary").model_spec.version_label == "canary"
    metadata = client.metadata_request("m", version=2)
    assert (metadata.model_spec.name, metadata.model_spec.version.value) == ("m", 2)
    assert list(metadata.metadata_field) == ["signature_def"]
    assert client.status_request("m", label="stable").model_spec.version_label == "stable"
    with pytest.raises(ValueError, match="not both"):
        client.status_request("m", version=1, label="stable")


def test_grpc_classify_request_holds_one_example_per_image():
    request = client.classify_request([b"one", b"two"], model_name="m")
    examples = request.input.example_list.examples
    assert request.model_spec.signature_name == "classify"
    assert [e.features.feature["image/encoded"].bytes_list.value[0] for e in examples] == [
        b"one",
        b"two",
    ]


def test_rest_outputs_reads_both_forms_and_rejects_unnamed_answers():
    rows = {"predictions": [{"a": 1, "b": [2]}, {"a": 3, "b": [4]}]}
    assert client_rest.rest_outputs(rows) == {"a": [1, 3], "b": [[2], [4]]}
    assert client_rest.rest_outputs({"outputs": {"a": [1, 3]}}) == {"a": [1, 3]}
    with pytest.raises(ValueError, match="carries no output names"):
        client_rest.rest_outputs({"predictions": [[0.1, 0.9]]})
    with pytest.raises(ValueError, match=r"expected 'predictions' or 'outputs', got \['error'\]"):
        client_rest.rest_outputs({"error": "boom"})


@pytest.mark.parametrize("key", ["results", "result"])  # the server's key; api_rest.md's prose
def test_classify_and_regress_parsers(key):
    answer = {key: [[["cat", 0.75], ["dog", 0.25]], [["", 1]]]}
    assert client_rest.classify_results(answer) == [[("cat", 0.75), ("dog", 0.25)], [("", 1.0)]]
    assert client_rest.regress_results({key: [3.5, 4]}) == [3.5, 4.0]


@pytest.mark.parametrize(
    ("parse", "answer", "message"),
    [
        (client_rest.classify_results, {"predictions": []}, r"expected a 'results' list"),
        (
            client_rest.classify_results,
            {"results": [["cat", 0.5]]},
            r"\[\[label, score\], \.\.\.\]",
        ),
        (client_rest.regress_results, {"results": [[1.0]]}, "one number per example"),
        (client_rest.version_states, {"error": "x"}, "not a model status answer"),
        (client_rest.metadata_signatures, {"model_spec": {}}, "not a model metadata answer"),
    ],
)
def test_parsers_reject_other_answers(parse, answer, message):
    with pytest.raises(ValueError, match=message):
        parse(answer)


def test_status_and_metadata_parsers():
    status = {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK"}},
            {"version": "1", "state": "END", "status": {"error_code": "OK"}},
        ]
    }
    assert client_rest.version_states(status) == {2: "AVAILABLE", 1: "END"}
    signature = {"inputs": {}, "outputs": {}, "method_name": "tensorflow/serving/predict"}
    metadata = {
        "model_spec": {"name": "m", "signature_name": "", "version": "2"},
        "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
    }
    assert client_rest.metadata_signatures(metadata) == {"serving_default": signature}


def test_serving_error_is_one_line_naming_target_status_and_message():
    error = client.ServingError(
        "http://h:1/v1/models/m:predict",
        "answered HTTP 400",
        "Graph execution error:\n\nDetected at node x\nimage_bytes holds empty strings",
    )
    assert str(error) == (
        "http://h:1/v1/models/m:predict answered HTTP 400: image_bytes holds empty strings"
    )
    assert isinstance(error, OSError) and error.message == "image_bytes holds empty strings"
