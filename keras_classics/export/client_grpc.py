"""TF Serving's gRPC API: Predict, Classify, GetModelMetadata (PredictionService) and
GetModelStatus (ModelService), with the request protos of `client`; every `grpc.RpcError` (an
unreachable server included) is one `ServingError` naming the target, the status code and the
server's message.

    request = client.bytes_predict_request(images, model_name="resnet50", label="stable")
    outputs = client_grpc.predict("localhost:8500", request)   # {name: numpy array}
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_classics.export.client import ServingError

_STUBS = {
    "Predict": prediction_service_pb2_grpc.PredictionServiceStub,
    "Classify": prediction_service_pb2_grpc.PredictionServiceStub,
    "GetModelMetadata": prediction_service_pb2_grpc.PredictionServiceStub,
    "GetModelStatus": model_service_pb2_grpc.ModelServiceStub,
}


def call(target: str, method: str, request: Any, timeout: float = 30.0) -> Any:
    """Calls `method` (a key of `_STUBS`) at `target` ("host:8500") and returns its response."""
    with grpc.insecure_channel(target) as channel:
        stub = _STUBS[method](channel)
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(
                target, f"gRPC {method} {error.code().name}", error.details() or ""
            ) from None


def predict(
    target: str, request: predict_pb2.PredictRequest, timeout: float = 30.0
) -> dict[str, np.ndarray]:
    """`Predict`: the outputs as NumPy arrays."""
    response = call(target, "Predict", request, timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def classify(
    target: str, request: classification_pb2.ClassificationRequest, timeout: float = 30.0
) -> list[list[tuple[str, float]]]:
    """`Classify`: per example, its (label, score) pairs in the server's order."""
    response = call(target, "Classify", request, timeout)
    return [
        [(entry.label, entry.score) for entry in classifications.classes]
        for classifications in response.result.classifications
    ]


def metadata(
    target: str, request: get_model_metadata_pb2.GetModelMetadataRequest, timeout: float = 30.0
) -> tuple[int, dict[str, Any]]:
    """`GetModelMetadata`: the version answered and {signature name: SignatureDef as a dict}."""
    response = call(target, "GetModelMetadata", request, timeout)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    return response.model_spec.version.value, {
        name: json_format.MessageToDict(signature, preserving_proto_field_name=True)
        for name, signature in signatures.signature_def.items()
    }


def status(
    target: str, request: get_model_status_pb2.GetModelStatusRequest, timeout: float = 30.0
) -> dict[int, str]:
    """`GetModelStatus`: {version: state name}, e.g. {1: "AVAILABLE"}."""
    response = call(target, "GetModelStatus", request, timeout)
    state = get_model_status_pb2.ModelVersionStatus.State.Name
    return {entry.version: state(entry.state) for entry in response.model_version_status}
