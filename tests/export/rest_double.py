"""TF Serving's REST JSON rules, re-implemented for the test double: JSON body -> tensors or
tf.Examples -> JSON answer. Test code only: it can drift from the real server (whose rules live
in its `json_tensor.cc`), so the package's client never depends on it.

Follows TF Serving's rules (https://www.tensorflow.org/tfx/serving/api_rest, and its
`json_tensor.cc`): a body holds `signature_name` (default `serving_default`) and exactly one of
`instances` (row format: a list with one entry per example, each a value when the signature has
one input, else an object of named values) or `inputs` (columnar format: a value when the
signature has one input, else an object of named values). A binary string is written
`{"b64": "<base64>"}`; plain JSON strings are UTF-8 text. Row requests are answered
`{"predictions": [...]}` (one object per example, or bare values for a single output), columnar
ones `{"outputs": ...}`; string outputs whose names end in `_bytes` come back as `{"b64": ...}`.
Classify and regress bodies hold `examples` (and optional `context`): JSON objects of features
that become tf.Examples (floats -> float_list, whole numbers and booleans -> int64_list, strings
and `{"b64": ...}` -> bytes_list); both are answered `{"results": ...}` (json_tensor.cc's key).
Errors are answered `{"error": "<message>"}`, as the server does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from keras_classics.export.client import b64


class RestError(ValueError):
    """A request TF Serving would reject with HTTP 400 (the message is what it answers)."""


def is_b64(value: Any) -> bool:
    """Whether `value` is a `{"b64": "..."}` binary-string object."""
    return isinstance(value, dict) and list(value) == ["b64"] and isinstance(value["b64"], str)


def _string_leaves(value: Any, name: str) -> Any:
    if isinstance(value, list):
        return [_string_leaves(item, name) for item in value]
    if is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as error:
            raise RestError(f"input {name!r}: invalid base64 in a b64 object: {error}") from None
    if isinstance(value, str):
        return value.encode("utf-8")
    raise RestError(f"input {name!r} is a string tensor: expected strings or {{'b64': ...}}")


def json_to_array(value: Any, dtype: tf.DType, name: str) -> np.ndarray:
    """A JSON value (nested lists) as an array of the signature's `dtype`."""
    if dtype == tf.string:
        array = np.array(_string_leaves(value, name), dtype=object)
    else:

        def reject_text(item: Any) -> None:
            if isinstance(item, list):
                for entry in item:
                    reject_text(entry)
            elif isinstance(item, (str, dict)) or item is None:
                raise RestError(f"input {name!r} has dtype {dtype.name}: got {item!r}")

        reject_text(value)
        try:
            array = np.asarray(value, dtype=dtype.as_numpy_dtype)
        except (ValueError, TypeError) as error:  # ragged nested lists
            raise RestError(
                f"input {name!r} is not a rectangular {dtype.name} array: {error}"
            ) from None
    return array


def parse_predict_body(
    body: str | bytes | Mapping[str, Any], input_specs: Mapping[str, tf.TensorSpec]
) -> tuple[dict[str, np.ndarray], bool]:
    """The inputs of a predict body for a signature with `input_specs`, and whether it used the
    row format (`instances`), as TF Serving parses them."""
    if not isinstance(body, Mapping):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as error:
            raise RestError(f"the body is not JSON: {error}") from None
    if not isinstance(body, Mapping):
        raise RestError("the body must be a JSON object")
    if ("instances" in body) == ("inputs" in body):
        raise RestError("the body needs exactly one of 'instances' (row) or 'inputs' (columnar)")
    names = sorted(input_specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise RestError("'instances' must be a non-empty list, one entry per example")
        named = isinstance(instances[0], dict) and not is_b64(instances[0])
        if not named and len(names) != 1:
            raise RestError(f"each instance must be an object naming the inputs {names}")
        columns: dict[str, Any] = {names[0]: instances} if not named else {}
        if named:
            for index, instance in enumerate(instances):
                if not isinstance(instance, dict) or is_b64(instance):
                    raise RestError(f"instance {index} is not an object of named inputs")
                if sorted(instance) != names:
                    raise RestError(f"instance {index} names {sorted(instance)}; expected {names}")
            columns = {name: [instance[name] for instance in instances] for name in names}
        return _arrays(columns, input_specs), True
    inputs = body["inputs"]
    named = isinstance(inputs, dict) and not is_b64(inputs)
    if not named:
        if len(names) != 1:
            raise RestError(f"'inputs' must be an object naming the inputs {names}")
        inputs = {names[0]: inputs}
    if sorted(inputs) != names:
        raise RestError(f"'inputs' names {sorted(inputs)}; the signature takes {names}")
    return _arrays(inputs, input_specs), False


def _arrays(
    columns: Mapping[str, Any], input_specs: Mapping[str, tf.TensorSpec]
) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in columns.items():
        spec_ = input_specs[name]
        array = json_to_array(value, spec_.dtype, name)
        if not spec_.shape.is_compatible_with(array.shape):
            raise RestError(
                f"input {name!r} has shape {list(array.shape)}; the signature takes "
                f"{spec_.shape.as_list()} (None: any size)"
            )
        arrays[name] = array
    return arrays


def _to_json(name: str, value: np.ndarray) -> Any:
    if value.dtype != object and value.dtype.kind != "S":
        return value.tolist()
    if name.endswith("_bytes"):
        return np.vectorize(b64, otypes=[object])(value).tolist()
    return np.vectorize(lambda v: v.decode("utf-8"), otypes=[object])(value).tolist()


def format_predict_answer(outputs: Mapping[str, np.ndarray], row_format: bool) -> dict[str, Any]:
    """TF Serving's JSON answer for `outputs`, in the format of the request."""
    names = sorted(outputs)
    values = {name: _to_json(name, np.asarray(outputs[name])) for name in names}
    if not row_format:
        return {"outputs": values[names[0]] if len(names) == 1 else values}
    batch = {len(values[name]) for name in names}
    if len(batch) != 1:
        raise RestError(f"outputs {names} have different batch sizes; use the 'inputs' format")
    if len(names) == 1:
        return {"predictions": values[names[0]]}
    return {"predictions": [{name: values[name][i] for name in names} for i in range(*batch)]}


def request_object(body: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON object of a request body (text, UTF-8 bytes, or already decoded)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RestError(f"the body is not UTF-8 text: {error}") from None
    if not isinstance(body, Mapping):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as error:
            raise RestError(f"the body is not JSON: {error}") from None
        except RecursionError:
            raise RestError("the body is nested too deeply") from None
    if not isinstance(body, Mapping):
        raise RestError("the body must be a JSON object")
    return body


def signature_name(body: Mapping[str, Any], default: str) -> str:
    """The body's `signature_name`, `default` when absent."""
    name = body.get("signature_name", default)
    if not isinstance(name, str):
        raise RestError(f"'signature_name' must be a string; got {type(name).__name__}")
    return name


def _feature(name: str, content: Any) -> tf.train.Feature:
    values = content if isinstance(content, list) else [content]
    kinds = set()
    for value in values:
        if isinstance(value, int):  # booleans too, as 1 / 0
            kinds.add("int64_list")
        elif isinstance(value, float):
            kinds.add("float_list")
        elif isinstance(value, str) or is_b64(value):
            kinds.add("bytes_list")
        else:
            raise RestError(f"Feature: {name} has element with unexpected JSON type: {value!r}")
    if len(kinds) > 1:
        raise RestError(f"Feature: {name} mixes kinds {sorted(kinds)}")
    kind = kinds.pop() if kinds else "bytes_list"
    if kind == "bytes_list":
        data = [_string_leaves(value, name) for value in values]
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
    if kind == "float_list":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _features(value: Any, what: str) -> dict[str, tf.train.Feature]:
    if not isinstance(value, dict):
        raise RestError(f"{what} must be JSON object but got {type(value).__name__}")
    return {name: _feature(name, content) for name, content in value.items()}


def parse_examples(body: Mapping[str, Any]) -> list[bytes]:
    """The serialised tf.Examples of a classify / regress body (context merged into each)."""
    if "examples" not in body:
        raise RestError("key 'examples' is expected and was not found")
    examples = body["examples"]
    if not isinstance(examples, list) or not examples:
        raise RestError("'examples' must be a non-empty list")
    context = _features(body["context"], "Context") if "context" in body else {}
    serialised = []
    for example in examples:
        features = _features(example, "Example")
        if set(features) & set(context):
            raise RestError(f"features {sorted(set(features) & set(context))} are in the context")
        proto = tf.train.Example(features=tf.train.Features(feature={**context, **features}))
        serialised.append(proto.SerializeToString())
    return serialised


def classify_answer(classes: np.ndarray | None, scores: np.ndarray | None) -> dict[str, Any]:
    """`{"results": [[[label, score], ...], ...]}` from a classify signature's outputs (a missing
    `classes` gives empty labels, missing `scores` gives 0)."""
    shape = (classes if classes is not None else scores).shape
    labels = np.full(shape, b"", dtype=object) if classes is None else classes
    values = np.zeros(shape, np.float32) if scores is None else scores
    return {
        "results": [
            [
                [label.decode("utf-8"), float(score)]
                for label, score in zip(row, scores_row, strict=True)
            ]
            for row, scores_row in zip(labels, values, strict=True)
        ]
    }


def regress_answer(outputs: np.ndarray) -> dict[str, Any]:
    """`{"results": [value, ...]}` from a regress signature's `outputs` ([batch] or [batch, 1])."""
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1:
        raise RestError(f"regress outputs must be [batch] or [batch, 1]; got {list(outputs.shape)}")
    return {"results": [float(value) for value in outputs]}
