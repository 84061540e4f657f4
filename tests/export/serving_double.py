"""A test double of tensorflow_model_server (not installable here: on neither PyPI nor Debian):
one model's SavedModel versions, loaded in this process, with version labels, answering what
TF Serving answers over REST (`ServingDouble.rest`) and gRPC (`fake_servers.grpc_server`).

It follows TF Serving's documented behaviour (api_rest.md) and sources (http_rest_api_util.cc,
json_tensor.cc, classifier / regressor signature rules): predict, classify (method
`tensorflow/serving/classify`, input `inputs`, outputs `classes` / `scores`), regress (method
`tensorflow/serving/regress`, output `outputs`), model status and metadata, `/versions/V` and
`/labels/L`. Failures carry a gRPC status code; over REST they are `{"error": message}` with the
HTTP status TF Serving maps that code to. It never raises for a request.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from keras_classics.export.versions import list_versions
from tests.export import rest_double

DEFAULT_SIGNATURE = "serving_default"  # TF Serving's kDefaultServingSignatureDefKey
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
# http_rest_api_util.cc's URL patterns.
_LABEL_OR_VERSION = r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
POST_PATH = re.compile(
    rf"/v1/models/(?P<name>[^/:]+){_LABEL_OR_VERSION}:(?P<verb>predict|classify|regress)"
)
GET_PATH = re.compile(rf"/v1/models/(?P<name>[^/:]+){_LABEL_OR_VERSION}(?P<metadata>/metadata)?")
# TF Serving's status code -> HTTP status (its http_server.cc).
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
}


class RequestError(Exception):
    """A request the server refuses: a gRPC status code and TF Serving's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# What a request can make the double raise: its own refusals, TensorFlow's errors, and a
# signature called with inputs it does not take (TypeError, ValueError, KeyError).
REFUSALS = (RequestError, tf.errors.OpError, TypeError, ValueError, KeyError)
MAX_MESSAGE = 1000  # characters of an error answered: never the request's whole tensors


def as_request_error(error: Exception) -> RequestError:
    """What a body or TensorFlow error becomes: INVALID_ARGUMENT, or TensorFlow's own code."""
    if isinstance(error, RequestError):
        return error
    if isinstance(error, tf.errors.OpError):
        code = next(c for c in grpc.StatusCode if c.value[0] == error.error_code)
        return RequestError(code, error.message[:MAX_MESSAGE])
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(error)[:MAX_MESSAGE])


class ServingDouble:
    """Serves versions of the SavedModel base path `base_path` as `model_name`: `versions` (TF
    Serving's `specific` version policy), by default the newest only (its default policy,
    `latest { num_versions: 1 }`); `labels` maps version labels to served versions."""

    def __init__(
        self,
        base_path: str | os.PathLike,
        model_name: str,
        *,
        versions: list[int] | None = None,
        labels: Mapping[str, int] | None = None,
    ) -> None:
        self.model_name, self.labels = model_name, dict(labels or {})
        base = Path(base_path)
        versions = versions if versions is not None else list_versions(base)[-1:]
        self.versions = {v: base / str(v) for v in versions}
        if not self.versions or not set(self.labels.values()) <= set(self.versions):
            raise ValueError(f"{base}: versions {list(self.versions)}, labels {self.labels}")
        self.loaded = {v: tf.saved_model.load(os.fspath(d)) for v, d in self.versions.items()}
        # The SignatureDef protos, read from saved_model.pb as the server reads them.
        self.signature_defs = {
            v: saved_model_pb2.SavedModel.FromString((d / "saved_model.pb").read_bytes())
            .meta_graphs[0]
            .signature_def
            for v, d in self.versions.items()
        }

    # Model specs and signatures.
    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> int:
        """The version a request names (the newest by default), as ServerCore resolves it."""
        if name != self.model_name:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {name}")
        if label is not None:
            if label not in self.labels:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Unrecognized servable version label: {label}",
                )
            return self.labels[label]
        if version is None:
            return max(self.versions)
        if version not in self.versions:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Specific({name}, {version})",
            )
        return version

    def signature(self, version: int, name: str, method: str | None = None) -> Any:
        """Signature `name` of `version`; with `method`, it must have that method name."""
        signatures = self.loaded[version].signatures
        if name not in signatures:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Serving signature name: "{name}" not found in signature def; it has '
                f"{sorted(signatures)}",
            )
        actual = self.signature_defs[version][name].method_name
        if method is not None and actual != method:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected {method} signature method_name, got {actual} for {name!r}",
            )
        return signatures[name]

    # The APIs, on arrays and protos (REST and gRPC both call these).
    def predict(self, version: int, name: str, inputs: Mapping[str, np.ndarray]) -> dict:
        outputs = self.signature(version, name)(**{k: tf.constant(v) for k, v in inputs.items()})
        return {key: value.numpy() for key, value in outputs.items()}

    def run_examples(self, version: int, name: str, method: str, examples: list[bytes]) -> dict:
        """A classify or regress signature (input `inputs`) on serialised tf.Examples."""
        function = self.signature(version, name, method)
        if list(function.structured_input_signature[1]) != ["inputs"]:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{name!r} has no single 'inputs'")
        outputs = function(inputs=tf.constant(examples, tf.string))
        return {key: value.numpy() for key, value in outputs.items()}

    def status(self, version: int | None) -> get_model_status_pb2.GetModelStatusResponse:
        response = get_model_status_pb2.GetModelStatusResponse()
        for number in [version] if version is not None else sorted(self.versions):
            entry = response.model_version_status.add(version=number)
            entry.state = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE
            entry.status.SetInParent()  # printed as the server does: error_code OK, message ""
        return response

    def metadata(self, version: int) -> get_model_metadata_pb2.GetModelMetadataResponse:
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.model_name
        response.model_spec.version.value = version
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for key, value in self.signature_defs[version].items():
            signatures.signature_def[key].CopyFrom(value)
        response.metadata["signature_def"].Pack(signatures)
        return response

    # REST.
    def rest(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
        """TF Serving's HTTP status and JSON answer to `method path` with `body`."""
        try:
            return 200, self._rest(method, path, body)
        except REFUSALS as error:  # RestError is a ValueError
            refused = as_request_error(error)
            return HTTP_STATUS.get(refused.code, 500), {"error": refused.message}

    def _rest(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        match = (POST_PATH if method == "POST" else GET_PATH).fullmatch(path)
        if method not in ("GET", "POST") or not match:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT, f"Malformed request: {method} {path}"
            )
        label = match["label"] and urllib.parse.unquote(match["label"])
        version = int(match["version"]) if match["version"] else None
        name = urllib.parse.unquote(match["name"])
        number = self.resolve(name, version, label)
        if method == "GET":
            if match["metadata"]:
                return _proto_json(self.metadata(number))
            return _proto_json(self.status(None if version is None and label is None else number))
        request = rest_double.request_object(body)
        signature = rest_double.signature_name(request, DEFAULT_SIGNATURE)
        if match["verb"] == "predict":
            specs = self.signature(number, signature).structured_input_signature[1]
            inputs, row_format = rest_double.parse_predict_body(request, specs)
            return rest_double.format_predict_answer(
                self.predict(number, signature, inputs), row_format
            )
        method_name = CLASSIFY_METHOD if match["verb"] == "classify" else REGRESS_METHOD
        examples = rest_double.parse_examples(request)
        outputs = self.run_examples(number, signature, method_name, examples)
        if match["verb"] == "classify":
            return rest_double.classify_answer(outputs.get("classes"), outputs.get("scores"))
        return rest_double.regress_answer(outputs["outputs"])


def _proto_json(message: Any) -> dict[str, Any]:
    """A response proto as TF Serving prints it: proto field names, defaults included; the
    metadata's `Any` unpacked into `{"signature_def": SignatureDefMap}`."""
    if isinstance(message, get_model_metadata_pb2.GetModelMetadataResponse):
        signatures = get_model_metadata_pb2.SignatureDefMap()
        message.metadata["signature_def"].Unpack(signatures)
        return {
            "model_spec": _proto_json(message.model_spec),
            "metadata": {"signature_def": _proto_json(signatures)},
        }
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
