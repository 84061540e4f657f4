"""The test double (`ServingDouble`) served over real HTTP and real gRPC on free local ports, so the
clients' network code runs end to end: what tensorflow_model_server would do, minus the server.

gRPC converts the request's TensorProtos with `tf.make_ndarray` and the outputs back with
`tf.make_tensor_proto`, as the server does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.export.serving_double import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REFUSALS,
    RequestError,
    ServingDouble,
    as_request_error,
)


@contextmanager
def rest_server(double: ServingDouble) -> Iterator[tuple[int, list[dict]]]:
    """An HTTP server on a free port answering TF Serving's REST API from `double`; yields the
    port and the requests received ({"method", "path", "body"}, the body decoded when JSON)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                logged: Any = json.loads(body) if body else None
            except ValueError:
                logged = body
            received.append({"method": method, "path": self.path, "body": logged})
            status, answer = double.rest(method, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

        def log_message(self, *args) -> None:
            pass

    with serve_http(Handler) as port:
        yield port, received


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """An HTTP server with `handler` on a free local port, in a thread; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _version(double: ServingDouble, model_spec: Any) -> int:
    version = model_spec.version.value if model_spec.HasField("version") else None
    return double.resolve(model_spec.name, version, model_spec.version_label or None)


def _answering(method):
    """A servicer method whose refusals (and TensorFlow errors) end the call with their code."""

    def wrapped(self, request, context):
        self.received.append(request)
        try:
            return method(self, request)
        except REFUSALS as error:
            refused = as_request_error(error)
            context.abort(refused.code, refused.message)

    return wrapped


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, double: ServingDouble, received: list) -> None:
        self.double, self.received = double, received

    @_answering
    def Predict(self, request):
        version = _version(self.double, request.model_spec)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = version
        for name, value in self.double.predict(version, signature, inputs).items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    @_answering
    def Classify(self, request):
        version = _version(self.double, request.model_spec)
        examples = [e.SerializeToString() for e in request.input.example_list.examples]
        signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
        outputs = self.double.run_examples(version, signature, CLASSIFY_METHOD, examples)
        response = classification_pb2.ClassificationResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = version
        for names, scores in zip(outputs["classes"], outputs["scores"], strict=True):
            classifications = response.result.classifications.add()
            for name, score in zip(names, scores, strict=True):
                classifications.classes.add(label=name.decode("utf-8"), score=score)
        return response

    @_answering
    def GetModelMetadata(self, request):
        if list(request.metadata_field) != ["signature_def"]:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Metadata field {list(request.metadata_field)} is not supported",
            )
        return self.double.metadata(_version(self.double, request.model_spec))


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, double: ServingDouble, received: list) -> None:
        self.double, self.received = double, received

    @_answering
    def GetModelStatus(self, request):
        spec = request.model_spec
        version = _version(self.double, spec)
        named = spec.HasField("version") or bool(spec.version_label)
        return self.double.status(version if named else None)


@contextmanager
def grpc_server(double: ServingDouble) -> Iterator[tuple[int, list]]:
    """PredictionService and ModelService on a free port; yields the port and the requests."""
    received: list = []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(double, received), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        _ModelService(double, received), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, received
    finally:
        server.stop(grace=None).wait()
