"""What a TF Serving client sends: REST URLs and JSON bodies, gRPC request protos; the one error
of a failed call; the top-k labels of an answer. No network here: `client_rest` (which also
reads the REST answers) and `client_grpc` send them.

REST (TF Serving's api_rest.md): `POST http://HOST:8501/v1/models/NAME[/versions/V|/labels/L]
:(predict|classify|regress)`, `GET .../v1/models/NAME[/versions/V|/labels/L]` (model status) and
`GET .../metadata`. Predict bodies use the row format `{"instances": [...]}` or the columnar
format `{"inputs": {...}}`; classify and regress bodies hold `{"examples": [{feature: value}]}`;
binary strings travel as `{"b64": "<base64>"}`. gRPC (port 8500): `PredictionService` (Predict,
Classify, Regress, GetModelMetadata) and `ModelService.GetModelStatus`, whose `ModelSpec` names
the version (`version`) or its label (`version_label`).
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    predict_pb2,
)

from keras_classics.cli import useful_line
from keras_classics.export import spec

REST_FORMATS = ("instances", "inputs")
PROTOCOLS = ("rest", "grpc")
# TF Serving's REST verbs: POSTed ones end the URL in ":verb"; "status" is the bare model URL.
REST_VERBS = ("predict", "classify", "regress", "status", "metadata")


class ServingError(OSError):
    """A request TF Serving did not answer: unreachable, timed out, or answered with an error.

    One line naming the target (URL or host:port), the status (HTTP code, gRPC code, or why no
    answer came) and the server's message.
    """

    def __init__(self, target: str, status: str, message: str) -> None:
        self.target, self.status, self.message = target, status, useful_line(message)
        super().__init__(f"{target} {status}: {self.message}")


def b64(data: bytes) -> dict[str, str]:
    """A binary string as TF Serving's REST API takes it: `{"b64": base64(data)}`."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def check_version(version: int | None, label: str | None) -> None:
    """TF Serving takes a version number or a version label, not both (and the ServingError it
    would answer comes only after a round trip)."""
    if version is not None and label is not None:
        raise ValueError(
            f"give a version ({version}) or a version label ({label!r}), not both: TF Serving "
            "resolves a label to one version"
        )
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValueError(f"a version is a whole number; got {version!r}")
    if label is not None and not label:
        raise ValueError("a version label must not be empty")


def rest_url(
    host: str,
    port: int,
    model_name: str,
    version: int | None = None,
    verb: str = "predict",
    *,
    label: str | None = None,
) -> str:
    """`http://host:port/v1/models/NAME[/versions/V|/labels/L]` followed by `:verb` (predict,
    classify, regress), `/metadata`, or nothing (status)."""
    if verb not in REST_VERBS:
        raise ValueError(f"verb={verb!r} is not valid; choose one of {list(REST_VERBS)}")
    check_version(version, label)
    path = f"/v1/models/{urllib.parse.quote(model_name, safe='')}"
    if version is not None:
        path += f"/versions/{version}"
    if label is not None:
        path += f"/labels/{urllib.parse.quote(label, safe='')}"
    suffix = {"status": "", "metadata": "/metadata"}.get(verb, f":{verb}")
    return f"http://{host}:{port}{path}{suffix}"


def rest_body(
    images: Sequence[bytes],
    *,
    request_format: str = "instances",
    signature_name: str | None = spec.SIGNATURE_BYTES,
    input_name: str = spec.INPUT_BYTES,
) -> dict[str, Any]:
    """The REST predict body sending encoded images to the image-bytes signature.

    "instances" (row format): `{"signature_name": ..., "instances": [{"b64": ...}, ...]}`, one
    value per image (the signature has a single input). "inputs" (columnar format):
    `{"signature_name": ..., "inputs": {input_name: [{"b64": ...}, ...]}}`. `signature_name=None`
    leaves the key out: the server then uses `serving_default`.
    """
    if request_format not in REST_FORMATS:
        raise ValueError(
            f"request_format={request_format!r} is not valid; choose one of {list(REST_FORMATS)}"
        )
    values = [b64(image) for image in images]
    data = values if request_format == "instances" else {input_name: values}
    return _with_signature({request_format: data}, signature_name)


def examples_body(
    examples: Sequence[Mapping[str, Any]],
    *,
    signature_name: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A `:classify` or `:regress` body: one JSON object of features per tf.Example (a value or
    a list of numbers or strings; `{"b64": ...}` for bytes), and optional `context` features
    shared by all examples."""
    body: dict[str, Any] = {"examples": [dict(example) for example in examples]}
    if context is not None:
        body["context"] = dict(context)
    return _with_signature(body, signature_name)


def classify_body(
    images: Sequence[bytes], *, signature_name: str | None = spec.SIGNATURE_CLASSIFY
) -> dict[str, Any]:
    """The `:classify` body for the classify signature: `image/encoded` bytes per example."""
    examples = [{spec.EXAMPLE_IMAGE_FEATURE: b64(image)} for image in images]
    return examples_body(examples, signature_name=signature_name)


def _with_signature(body: dict[str, Any], signature_name: str | None) -> dict[str, Any]:
    return body if signature_name is None else {"signature_name": signature_name, **body}


def fill_model_spec(
    model_spec: Any,
    model_name: str,
    signature_name: str | None = None,
    version: int | None = None,
    label: str | None = None,
) -> None:
    """Fills a gRPC `ModelSpec`: name, signature, and `version` or `version_label`."""
    check_version(version, label)
    model_spec.name = model_name
    if signature_name is not None:
        model_spec.signature_name = signature_name
    if version is not None:
        model_spec.version.value = version
    if label is not None:
        model_spec.version_label = label


def predict_request(
    inputs: Mapping[str, Any],
    *,
    signature_name: str,
    model_name: str = "",
    version: int | None = None,
    label: str | None = None,
    dtypes: Mapping[str, tf.DType] | None = None,
) -> predict_pb2.PredictRequest:
    """A gRPC `PredictRequest` with one TensorProto per named input (`tf.make_tensor_proto`).

    `dtypes` forces an input's dtype (e.g. tf.string for a list of bytes). An empty
    `model_name` suits warm-up records, whose model the server fills in.
    """
    request = predict_pb2.PredictRequest()
    fill_model_spec(request.model_spec, model_name, signature_name, version, label)
    for name, value in inputs.items():
        dtype = (dtypes or {}).get(name)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
    return request


def bytes_predict_request(
    images: Sequence[bytes],
    *,
    model_name: str = "",
    version: int | None = None,
    label: str | None = None,
    signature_name: str = spec.SIGNATURE_BYTES,
) -> predict_pb2.PredictRequest:
    """A gRPC `PredictRequest` for the image-bytes signature: `image_bytes` string [batch]."""
    return predict_request(
        {spec.INPUT_BYTES: list(images)},
        signature_name=signature_name,
        model_name=model_name,
        version=version,
        label=label,
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
    label: str | None = None,
    signature_name: str = spec.SIGNATURE_CLASSIFY,
) -> classification_pb2.ClassificationRequest:
    """A gRPC `ClassificationRequest`: one tf.Example per image, for the classify signature."""
    request = classification_pb2.ClassificationRequest()
    fill_model_spec(request.model_spec, model_name, signature_name, version, label)
    for image in images:
        request.input.example_list.examples.add().CopyFrom(image_example(image))
    return request


def metadata_request(
    model_name: str, *, version: int | None = None, label: str | None = None
) -> get_model_metadata_pb2.GetModelMetadataRequest:
    """A gRPC `GetModelMetadataRequest` for the signatures (`metadata_field: signature_def`, the
    only field TF Serving answers)."""
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    fill_model_spec(request.model_spec, model_name, version=version, label=label)
    return request


def status_request(
    model_name: str, *, version: int | None = None, label: str | None = None
) -> get_model_status_pb2.GetModelStatusRequest:
    """A gRPC `GetModelStatusRequest`: every version of the model, or the one named."""
    request = get_model_status_pb2.GetModelStatusRequest()
    fill_model_spec(request.model_spec, model_name, version=version, label=label)
    return request


def top_k_labels(outputs: Mapping[str, Any]) -> list[list[tuple[str, float]]]:
    """Per image, the (class name, probability) pairs of the signature's top-k outputs."""
    names, scores = outputs[spec.OUTPUT_CLASS_NAMES], outputs[spec.OUTPUT_SCORES]
    return [
        [(_text(name), float(score)) for name, score in zip(row_names, row_scores, strict=True)]
        for row_names, row_scores in zip(names, scores, strict=True)
    ]


def _text(name: Any) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)
