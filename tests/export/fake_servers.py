"""Stand-ins for tensorflow_model_server (not installable here) that answer over real HTTP and
gRPC from a SavedModel in this process, so the clients' network code runs end to end.

REST answers come from `LocalServer` (TF Serving's JSON rules); gRPC answers convert the
request's TensorProtos with `tf.make_ndarray` and the outputs back with `tf.make_tensor_proto`,
as the server does. Test doubles only: the real server is documented in docs/serving.md.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_classics.export.rest import LocalServer

PREDICT_PATH = re.compile(r"^/v1/models/(?P<name>[\w-]+)(/versions/(?P<version>\d+))?:predict$")


@contextmanager
def rest_server(local: LocalServer, model_name: str) -> Iterator[tuple[int, list[dict]]]:
    """An HTTP server on a free port answering `:predict` for `model_name`; yields the port and
    the list of the request paths and bodies it received."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
            match = PREDICT_PATH.match(self.path)
            if not match or match["name"] != model_name:
                answer, status = {"error": f"Servable not found for request: {self.path}"}, 404
            else:
                answer = local.predict(body)
                status = 400 if "error" in answer else 200
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def grpc_server(local: LocalServer) -> Iterator[tuple[int, list[predict_pb2.PredictRequest]]]:
    """A gRPC PredictionService on a free port; yields the port and the requests received."""
    received: list[predict_pb2.PredictRequest] = []

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            received.append(request)
            function = local.signature(request.model_spec.signature_name or "serving_default")
            inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            for name, value in function(**inputs).items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, received
    finally:
        server.stop(grace=None).wait()
