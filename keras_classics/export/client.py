"""Requests for TF Serving: REST JSON bodies and gRPC protos, sending them, reading answers.

REST (https://www.tensorflow.org/tfx/serving/api_rest): POST a JSON body to
`http://HOST:8501/v1/models/NAME[/versions/V]:predict`, either in the row format
`{"instances": [...]}` or the columnar format `{"inputs": {...}}`; binary strings travel as
`{"b64": "<base64>"}`. gRPC: `PredictionService.Predict` with a `PredictRequest` (port 8500).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, predict_pb2

from keras_classics.export import spec

REST_FORMATS = ("instances", "inputs")
PROTOCOLS = ("rest", "grpc")


def b64(data: bytes) -> dict[str, str]:
    """A binary string as TF Serving's REST API takes it: `{"b64": base64(data)}`."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def rest_body(
    images: Sequence[bytes],
    *,
    request_format: str = "instances",
    signature_name: str = spec.SIGNATURE_BYTES,
    input_name: str = spec.INPUT_BYTES,
) -> dict[str, Any]:
    """The REST predict body sending encoded images to the image-bytes signature.

    "instances" (row format): `{"signature_name": ..., "instances": [{"b64": ...}, ...]}`, one
    value per image (the signature has a single input). "inputs" (columnar format):
    `{"signature_name": ..., "inputs": {input_name: [{"b64": ...}, ...]}}`.
    """
    if request_format not in REST_FORMATS:
        raise ValueError(
            f"request_format={request_format!r} is not valid; choose one of {list(REST_FORMATS)}"
        )
    values = [b64(image) for image in images]
    if request_format == "instances":
        return {"signature_name": signature_name, "instances": values}
    return {"signature_name": signature_name, "inputs": {input_name: values}}


def rest_url(
    host: str, port: int, model_name: str, version: int | None = None, verb: str = "predict"
) -> str:
    """`http://host:port/v1/models/NAME[/versions/V]:verb`."""
    version_part = "" if version is None else f"/versions/{version}"
    return f"http://{host}:{port}/v1/models/{model_name}{version_part}:{verb}"


def post_json(url: str, body: Mapping[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """POSTs `body` as JSON, returns the decoded answer; TF Serving's `{"error": ...}` answers
    (HTTP 4xx/5xx) raise a RuntimeError carrying its message."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url} answered HTTP {error.code}: {error.read().decode()}") from None


def _fill_model_spec(
    model_spec: Any, model_name: str, signature_name: str, version: int | None
) -> None:
    model_spec.name = model_name
    model_spec.signature_name = signature_name
    if version is not None:
        model_spec.version.value = version


def predict_request(
    inputs: Mapping[str, Any],
    *,
    signature_name: str,
    model_name: str = "",
    version: int | None = None,
    dtypes: Mapping[str, tf.DType] | None = None,
) -> predict_pb2.PredictRequest:
    """A gRPC `PredictRequest` with one TensorProto per named input (`tf.make_tensor_proto`).

    `dtypes` forces an input's dtype (e.g. tf.string for a list of bytes). An empty
    `model_name` suits warm-up records, whose model the server fills in.
    """
    request = predict_pb2.PredictRequest()
    _fill_model_spec(request.model_spec, model_name, signature_name, version)
    for name, value in inputs.items():
        dtype = (dtypes or {}).get(name)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
    return request


def bytes_predict_request(
    images: Sequence[bytes],
    *,
    model_name: str = "",
    version: int | None = None,
    signature_name: str = spec.SIGNATURE_BYTES,
) -> predict_pb2.PredictRequest:
    """A gRPC `PredictRequest` for the image-bytes signature: `image_bytes` string [batch]."""
    return predict_request(
        {spec.INPUT_BYTES: list(images)},
        signature_name=signature_name,
        model_name=model_name,
        version=version,
        dtypes={spec.INPUT_BYTES: tf.string},
    )


def image_example(encoded: bytes) -> tf.train.Example:
    """A tf.Example holding one encoded image under `image/encoded` (the classify input)."""
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
    return tf.train.Example(
        features=tf.train.Features(feature={spec.EXAMPLE_IMAGE_FEATURE: feature})
    )


def classify_request(
    images: Sequence[bytes],
    *,
    model_name: str = "",
    version: int | None = None,
    signature_name: str = spec.SIGNATURE_CLASSIFY,
) -> classification_pb2.ClassificationRequest:
    """A gRPC `ClassificationRequest`: one tf.Example per image, for the classify signature."""
    request = classification_pb2.ClassificationRequest()
    _fill_model_spec(request.model_spec, model_name, signature_name, version)
    for image in images:
        request.input.example_list.examples.add().CopyFrom(image_example(image))
    return request


def grpc_predict(
    target: str, request: predict_pb2.PredictRequest, timeout: float = 30.0
) -> dict[str, np.ndarray]:
    """Sends `request` to TF Serving's gRPC `Predict` at `target` ("host:8500"); returns the
    outputs as NumPy arrays."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def rest_outputs(response: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A REST predict answer (either format) as {output name: per-image values}.

    Row answers are `{"predictions": [{name: value}, ...]}`, columnar ones `{"outputs": {name:
    [values]}}`; a signature with a single output gives bare values in both, which this cannot
    name: such answers are rejected.
    """
    if "error" in response:
        raise RuntimeError(f"TF Serving answered an error: {response['error']}")
    if "predictions" in response:
        rows = response["predictions"]
        if not all(isinstance(row, dict) for row in rows):
            raise ValueError("a row answer of a single-output signature carries no output names")
        return {name: [row[name] for row in rows] for name in (rows[0] if rows else {})}
    if "outputs" in response and isinstance(response["outputs"], dict):
        return dict(response["outputs"])
    raise ValueError(
        f"not a predict answer: expected 'predictions' or 'outputs', got {list(response)}"
    )


def top_k_labels(outputs: Mapping[str, Any]) -> list[list[tuple[str, float]]]:
    """Per image, the (class name, probability) pairs of the signature's top-k outputs."""
    names, scores = outputs[spec.OUTPUT_CLASS_NAMES], outputs[spec.OUTPUT_SCORES]
    return [
        [(_text(name), float(score)) for name, score in zip(row_names, row_scores, strict=True)]
        for row_names, row_scores in zip(names, scores, strict=True)
    ]


def _text(name: Any) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)
