"""TF Serving's API end to end: the client's REST and gRPC paths against the test double, served
over real HTTP and gRPC on local ports.

The REST bodies are the ones TF Serving's api_rest.md shows, sent to a SavedModel made here to
match them (its `half_plus_three` example: `{"instances": [1.0, 2.0, 5.0]}` answered
`{"predictions": [3.5, 4.0, 5.5]}`, a regress and a classify signature, named inputs), then the
image export's bytes, classify and metadata through both protocols; then each way a request
fails, as one ServingError line.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.export import client, client_grpc, client_rest, spec
from keras_classics.export.client_rest import RestClient
from keras_classics.export.serving import set_method_name
from tests.export.fake_servers import grpc_server, rest_server, serve_http
from tests.export.serving_double import CLASSIFY_METHOD, REGRESS_METHOD, ServingDouble
from tests.export.shared import CLASS_NAMES, TOP_K

DOC_MODEL = "half_plus_three"
# version -> offset: 123 is the document's half_plus_three; 122 an older half_plus_two.
DOC_VERSIONS = {122: 2.0, 123: 3.0}
DOC_LABELS = {"stable": 122, "canary": 123}


class DocModel(tf.Module):
    """Signatures shaped like api_rest.md's examples; `offset` tells the versions apart."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = tf.Variable(offset)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def half_plus(self, x):
        return {"y": 0.5 * x + self.offset}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def strings(self, text):
        return {"length": tf.strings.length(text)}

    @tf.function(input_signature=[tf.TensorSpec([None, 1, 2], tf.float32, name="pairs")])
    def pairs(self, pairs):
        return {"sum": tf.reduce_sum(pairs, axis=[1, 2])}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="tag"),
            tf.TensorSpec([None, 5], tf.float32, name="signal"),
            tf.TensorSpec([None, 2, 2], tf.float32, name="sensor"),
        ]
    )
    def named(self, tag, signal, sensor):
        return {
            "tag": tf.strings.upper(tag),
            "signal_max": tf.reduce_max(signal, axis=1),
            "sensor_sum": tf.reduce_sum(sensor, axis=[1, 2]),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, inputs):
        x = tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
        return {"outputs": 0.5 * x + self.offset}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify_objects(self, inputs):
        features = tf.io.parse_example(
            inputs,
            {
                "image": tf.io.FixedLenFeature([], tf.string),
                "caption": tf.io.FixedLenFeature([], tf.string),
            },
        )
        score = tf.cast(tf.strings.length(features["image"]), tf.float32) / 100.0
        other = tf.fill(tf.shape(features["caption"]), "other")
        return {
            "classes": tf.stack([features["caption"], other], axis=1),
            "scores": tf.stack([score, 1.0 - score], axis=1),
        }


def save_doc_model(directory, offset: float) -> None:
    module = DocModel(offset)
    signatures = {
        "serving_default": module.half_plus,
        "strings": module.strings,
        "pairs": module.pairs,
        "named": module.named,
        "tensorflow/serving/regress": module.regress,
        "classify_objects": module.classify_objects,
    }
    tf.saved_model.save(module, str(directory), signatures=signatures)
    set_method_name(directory, "tensorflow/serving/regress", REGRESS_METHOD)
    set_method_name(directory, "classify_objects", CLASSIFY_METHOD)


@pytest.fixture(scope="module")
def doc_server(tmp_path_factory):
    """The document's model served over HTTP: yields a RestClient factory and the requests."""
    base = tmp_path_factory.mktemp("doc_model")
    for version, offset in DOC_VERSIONS.items():
        save_doc_model(base / str(version), offset)
    double = ServingDouble(base, DOC_MODEL, versions=list(DOC_VERSIONS), labels=DOC_LABELS)
    with rest_server(double) as (port, received):
        yield lambda **kw: RestClient("127.0.0.1", port, DOC_MODEL, **kw), received


TAG_SIGNAL_SENSOR = [
    {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
    {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]},
]
NAMED_ROWS = [
    {"sensor_sum": 10.0, "signal_max": 5.0, "tag": "FOO"},
    {"sensor_sum": 23.0, "signal_max": 5.0, "tag": "BAR"},
]
# (what api_rest.md shows, the request's keyword arguments, the verb, the body, the answer).
DOCUMENTED = [
    (
        "predict, row format, one input, signature_name omitted",
        {},
        "predict",
        {"instances": [1.0, 2.0, 5.0]},
        {"predictions": [3.5, 4.0, 5.5]},
    ),
    (
        "predict, row format, list of 3 scalar string tensors",
        {},
        "predict",
        {"signature_name": "strings", "instances": ["foo", "bar", "baz"]},
        {"predictions": [3, 3, 3]},
    ),
    (
        "predict, row format, list of 2 tensors each of [1, 2] shape",
        {},
        "predict",
        {"signature_name": "pairs", "instances": [[[1, 2]], [[3, 4]]]},
        {"predictions": [3.0, 7.0]},
    ),
    (
        "predict, row format, three named inputs",
        {},
        "predict",
        {"signature_name": "named", "instances": TAG_SIGNAL_SENSOR},
        {"predictions": NAMED_ROWS},
    ),
    (
        "predict, columnar format, three named inputs",
        {},
        "predict",
        {
            "signature_name": "named",
            "inputs": {
                "tag": ["foo", "bar"],
                "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
                "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]],
            },
        },
        {
            "outputs": {
                "sensor_sum": [10.0, 23.0],
                "signal_max": [5.0, 5.0],
                "tag": ["FOO", "BAR"],
            }
        },
    ),
    (
        "predict, columnar format, one input: a bare value answered as one",
        {"version": 122},
        "predict",
        {"inputs": [1.0, 2.0]},
        {"outputs": [2.5, 3.0]},
    ),
    (
        "predict, by version label",
        {"label": "stable"},
        "predict",
        {"instances": [1.0]},
        {"predictions": [2.5]},
    ),
    (
        "regress on a non-default signature",
        {},
        "regress",
        {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]},
        {"results": [3.5, 4.0]},
    ),
    (
        "regress with a context shared by the examples, by version",
        {"version": 122},
        "regress",
        {"signature_name": "tensorflow/serving/regress", "context": {"x": 4.0}, "examples": [{}]},
        {"results": [4.0]},
    ),
    (
        "classify with b64 binary features",
        {},
        "classify",
        {
            "signature_name": "classify_objects",
            "examples": [
                {"image": {"b64": "aW1hZ2UgYnl0ZXM="}, "caption": "seaside"},
                {"image": {"b64": "YXdlc29tZSBpbWFnZSBieXRlcw=="}, "caption": "mountains"},
            ],
        },
        {
            "results": [
                [["seaside", 0.11], ["other", 0.89]],
                [["mountains", 0.19], ["other", 0.81]],
            ]
        },
    ),
]


def assert_json_close(answer, expected) -> None:
    """Same keys, nesting and strings; numbers within float32 precision."""
    if isinstance(expected, dict):
        assert isinstance(answer, dict) and sorted(answer) == sorted(expected), answer
        for key in expected:
            assert_json_close(answer[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(answer, list) and len(answer) == len(expected), answer
        for item, reference in zip(answer, expected, strict=True):
            assert_json_close(item, reference)
    elif isinstance(expected, str):
        assert answer == expected
    else:
        assert answer == pytest.approx(expected, rel=1e-6), (answer, expected)


@pytest.mark.parametrize(
    ("what", "model", "verb", "body", "expected"), DOCUMENTED, ids=[d[0] for d in DOCUMENTED]
)
def test_documented_bodies_through_the_rest_client(doc_server, what, model, verb, body, expected):
    connect, received = doc_server
    answer = getattr(connect(**model), verb)(body)
    assert_json_close(answer, expected)
    assert received[-1]["body"] == body  # sent as given
    url = client.rest_url("h", 1, DOC_MODEL, model.get("version"), verb, label=model.get("label"))
    assert received[-1]["path"] == url.removeprefix("http://h:1")


def test_documented_answers_through_the_parsers(doc_server):
    connect, _ = doc_server
    rows = connect().predict(DOCUMENTED[3][3])
    assert client_rest.rest_outputs(rows)["tag"] == ["FOO", "BAR"]
    classified = client_rest.classify_results(connect().classify(DOCUMENTED[-1][3]))
    assert [[label for label, _ in pairs] for pairs in classified] == [
        ["seaside", "other"],
        ["mountains", "other"],
    ]
    regressed = client_rest.regress_results(connect().regress(DOCUMENTED[-3][3]))
    assert regressed == pytest.approx([3.5, 4.0])


@pytest.mark.parametrize(
    ("model", "versions"),
    [({}, [122, 123]), ({"version": 122}, [122]), ({"label": "canary"}, [123])],
)
def test_model_status(doc_server, model, versions):
    connect, received = doc_server
    answer = connect(**model).status()
    assert received[-1]["method"] == "GET"
    assert answer == {
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for version in versions
        ]
    }
    assert client_rest.version_states(answer) == dict.fromkeys(versions, "AVAILABLE")


@pytest.mark.parametrize(("model", "version"), [({}, 123), ({"label": "stable"}, 122)])
def test_model_metadata(doc_server, model, version):
    connect, _ = doc_server
    answer = connect(**model).metadata()
    assert answer["model_spec"] == {
        "name": DOC_MODEL,
        "signature_name": "",
        "version": str(version),
    }
    signatures = client_rest.metadata_signatures(answer)
    assert sorted(signatures) == sorted(
        ["serving_default", "strings", "pairs", "named", "tensorflow/serving/regress",
         "classify_objects", "__saved_model_init_op"]
    )  # fmt: skip
    regress = signatures["tensorflow/serving/regress"]
    assert regress["method_name"] == REGRESS_METHOD
    assert regress["inputs"]["inputs"]["dtype"] == "DT_STRING"
    assert signatures["named"]["inputs"]["sensor"]["tensor_shape"]["dim"][1:] == [
        {"size": "2", "name": ""},
        {"size": "2", "name": ""},
    ]


# The image export (tests/export/conftest.py's main_export) through both protocols.
@pytest.fixture(scope="module")
def image_servers(main_export):
    """The main export served as "resnet" (version 1, label "stable") over HTTP and gRPC."""
    double = ServingDouble(main_export / "export", "resnet", labels={"stable": 1})
    with rest_server(double) as (rest_port, _), grpc_server(double) as (grpc_port, received):
        yield rest_port, f"127.0.0.1:{grpc_port}", received


@pytest.fixture(scope="module")
def encoded(main_export):
    return list(np.load(main_export / "encoded.npy", allow_pickle=True))


@pytest.fixture(scope="module")
def reference(main_export):
    """Per image, the top-k (name, probability) of the Keras model on the reference pipeline."""
    probabilities = np.load(main_export / "reference.npz")["bytes_probabilities"]
    top = np.argsort(-probabilities, axis=-1)[:, :TOP_K]
    return [
        [(CLASS_NAMES[i], p[i]) for i in row] for row, p in zip(top, probabilities, strict=True)
    ]


def assert_labels(labels, reference) -> None:
    assert [[name for name, _ in row] for row in labels] == [
        [name for name, _ in row] for row in reference
    ]
    np.testing.assert_allclose(
        [[score for _, score in row] for row in labels],
        [[score for _, score in row] for row in reference],
        rtol=0,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("request_format", "signature_name", "key"),
    [("instances", None, "predictions"), ("inputs", spec.SIGNATURE_BYTES, "outputs")],
)
def test_image_bytes_over_rest(
    image_servers, encoded, reference, request_format, signature_name, key
):
    server = RestClient("127.0.0.1", image_servers[0], "resnet", label="stable")
    body = client.rest_body(encoded, request_format=request_format, signature_name=signature_name)
    answer = server.predict(body)
    assert list(answer) == [key]
    outputs = client_rest.rest_outputs(answer)
    assert sorted(outputs) == ["class_names", "classes", "logits", "probabilities", "scores"]
    assert_labels(client.top_k_labels(outputs), reference)


def test_classify_over_rest(image_servers, encoded, reference):
    answer = RestClient("127.0.0.1", image_servers[0], "resnet").classify(
        client.classify_body(encoded)
    )
    results = answer["results"]  # [example][class] -> [label, score]
    assert len(results) == len(encoded) and all(len(pairs) == TOP_K for pairs in results)
    assert all(
        isinstance(label, str) and isinstance(score, float)
        for pairs in results
        for label, score in pairs
    )
    assert_labels(client_rest.classify_results(answer), reference)


def test_grpc_predict_by_version_label(image_servers, encoded, reference):
    _, target, received = image_servers
    request = client.bytes_predict_request(encoded, model_name="resnet", label="stable")
    assert_labels(client.top_k_labels(client_grpc.predict(target, request)), reference)
    assert received[-1].model_spec.version_label == "stable"


def test_grpc_classify(image_servers, encoded, reference):
    _, target, _ = image_servers
    request = client.classify_request(encoded, model_name="resnet", version=1)
    assert_labels(client_grpc.classify(target, request), reference)


def test_grpc_metadata_and_status(image_servers):
    _, target, _ = image_servers
    version, signatures = client_grpc.metadata(
        target, client.metadata_request("resnet", label="stable")
    )
    assert version == 1
    assert signatures["classify"]["method_name"] == spec.CLASSIFY_METHOD
    assert list(signatures["serving_default"]["inputs"]) == [spec.INPUT_BYTES]
    assert client_grpc.status(target, client.status_request("resnet")) == {1: "AVAILABLE"}
    assert client_grpc.status(target, client.status_request("resnet", version=1)) == {
        1: "AVAILABLE"
    }


# Failures: each is one ServingError line naming the target, the status and the message.
def assert_one_line(error: client.ServingError, *fragments: str) -> None:
    text = str(error)
    assert "\n" not in text and text.startswith(error.target), text
    for fragment in fragments:
        assert fragment in text, text


@contextlib.contextmanager
def canned_http(status: int, body: bytes):
    """An HTTP server answering every request with `status` and `body` (a proxy, say)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with serve_http(Handler) as port:
        yield port


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_rest_connection_refused():
    with pytest.raises(client.ServingError) as error:
        RestClient("127.0.0.1", closed_port(), "m").status()
    assert_one_line(error.value, "/v1/models/m is unreachable: ", "refused")


def test_rest_timeout():
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(client.ServingError) as error:
            RestClient("127.0.0.1", silent.getsockname()[1], "m", timeout=0.5).status()
    assert_one_line(error.value, "did not answer within 0.5 s")


@contextlib.contextmanager
def hanging_up(reply: bytes, reset: bool):
    """A socket server that accepts each connection, reads the request, writes `reply` (maybe
    nothing) and closes it, with a TCP reset when `reset`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                connection, _ = server.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)
                    if reset:  # linger 0: close() sends RST
                        connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close() alone does not)
        server.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("reply", "reset", "fragments"),
    [
        (b"", False, ("connection closed: RemoteDisconnected",)),
        (b"", True, ("connection closed: ", "reset")),
        (b"SSH-2.0-OpenSSH\r\n", False, ("connection closed: BadStatusLine", "SSH-2.0")),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n{}",
            False,
            ("connection closed: IncompleteRead",),
        ),
    ],
    ids=["closed", "reset", "not-http", "cut-short"],
)
def test_rest_connection_closed(reply, reset, fragments):
    """A server (or proxy) that accepts and hangs up, resets, or speaks another protocol."""
    with hanging_up(reply, reset) as port, pytest.raises(client.ServingError) as error:
        RestClient("127.0.0.1", port, "m").status()
    assert_one_line(error.value, "127.0.0.1:", "/v1/models/m connection closed: ", *fragments)


def test_rest_tf_serving_error_body(doc_server):
    connect, _ = doc_server
    with pytest.raises(client.ServingError) as error:
        connect(label="nightly").predict({"instances": [1.0]})
    assert_one_line(
        error.value,
        "/labels/nightly:predict answered HTTP 400: Unrecognized servable version label: nightly",
    )
    assert error.value.status == "answered HTTP 400"


@pytest.mark.parametrize(
    ("status", "body", "fragments"),
    [
        (502, b"<html>\n<b>Bad gateway</b>\n</html>", ("answered HTTP 502: <html>",)),
        (404, b'{"error": "Servable not found for request: Latest(m)"}', ("HTTP 404: Servable",)),
        (200, b"<html>hello</html>", ("answered HTTP 200: not JSON", "<html>hello")),
        (200, b"[1, 2]", ("answered HTTP 200: not a JSON object",)),
    ],
)
def test_rest_other_answers(status, body, fragments):
    with canned_http(status, body) as port, pytest.raises(client.ServingError) as error:
        RestClient("127.0.0.1", port, "m").status()
    assert_one_line(error.value, *fragments)


def test_grpc_errors_carry_the_code_and_details(image_servers, encoded):
    _, target, _ = image_servers
    request = client.bytes_predict_request(encoded, model_name="resnet", version=9)
    with pytest.raises(client.ServingError) as error:
        client_grpc.predict(target, request)
    assert_one_line(error.value, f"{target} gRPC Predict NOT_FOUND: Servable not found")
    request = client.bytes_predict_request([b"not an image"], model_name="resnet")
    with pytest.raises(client.ServingError) as error:
        client_grpc.predict(target, request)
    assert_one_line(error.value, "INVALID_ARGUMENT: ", "image_bytes holds empty strings or bytes")


def test_grpc_unreachable():
    target = f"127.0.0.1:{closed_port()}"
    with pytest.raises(client.ServingError) as error:
        client_grpc.status(target, client.status_request("m"), timeout=5)
    assert_one_line(error.value, "gRPC GetModelStatus UNAVAILABLE: ")


def test_b64_is_what_the_document_encodes():
    assert client.b64(b"image bytes") == {"b64": "aW1hZ2UgYnl0ZXM="}
    assert base64.b64decode(client.b64(b"\x00\xff")["b64"]) == b"\x00\xff"


def test_a_body_the_signature_does_not_take_is_a_400_not_a_hang_up(image_servers, encoded):
    """Image bytes sent to signatures that take other inputs (classify: tf.Example strings
    under `inputs`; image_tensor: uint8 pixels): TF Serving's INVALID_ARGUMENT, one short line,
    over both protocols (the double once crashed the HTTP handler and overflowed gRPC's
    metadata with the request's own tensors)."""
    rest_port, target, _ = image_servers
    server = RestClient("127.0.0.1", rest_port, "resnet")
    for signature in ("classify", "image_tensor"):
        with pytest.raises(client.ServingError) as error:
            server.predict(client.rest_body(encoded, signature_name=signature))
        assert_one_line(error.value, "HTTP 400")
        assert len(str(error.value)) < 1200
        request = client.bytes_predict_request(
            encoded, model_name="resnet", signature_name=signature
        )
        with pytest.raises(client.ServingError) as error:
            client_grpc.predict(target, request)
        assert_one_line(error.value, "gRPC Predict INVALID_ARGUMENT")
        assert len(str(error.value)) < 1200
