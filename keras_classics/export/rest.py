"""TF Serving's REST predict API, answered in this process: JSON body -> tensors -> JSON answer.

Follows TF Serving's rules (https://www.tensorflow.org/tfx/serving/api_rest, and its
`json_tensor.cc`): a body holds `signature_name` (default `serving_default`) and exactly one of
`instances` (row format: a list with one entry per example, each a value when the signature has
one input, else an object of named values) or `inputs` (columnar format: a value when the
signature has one input, else an object of named values). A binary string is written
`{"b64": "<base64>"}`; plain JSON strings are UTF-8 text. Row requests are answered
`{"predictions": [...]}` (one object per example, or bare values for a single output), columnar
ones `{"outputs": ...}`; string outputs whose names end in `_bytes` come back as `{"b64": ...}`.
Errors are answered `{"error": "<message>"}`, as the server does.

`LocalServer` lets `scripts/predict.py --saved-model DIR` and the tests send the very body a
client would POST, without a running server.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from keras_classics.export.client import b64

# TF Serving's signature when the body names none.
DEFAULT_SIGNATURE = "serving_default"  # TF Serving's kDefaultServingSignatureDefKey


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


class LocalServer:
    """Answers TF Serving REST predict bodies with a SavedModel loaded in this process."""

    def __init__(self, saved_model_dir: str | os.PathLike) -> None:
        self.directory = os.fspath(saved_model_dir)
        self.loaded = tf.saved_model.load(self.directory)

    def signature(self, name: str) -> Any:
        """The signature function called `name`; a RestError lists the available ones."""
        if name not in self.loaded.signatures:
            raise RestError(
                f"signature {name!r} not found in {self.directory!r}; choose one of "
                f"{sorted(self.loaded.signatures)}"
            )
        return self.loaded.signatures[name]

    def predict(self, body: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """The JSON answer TF Serving's `:predict` gives to `body`; every malformed body (not
        UTF-8, not JSON, nested too deeply, wrongly typed fields) is answered {"error": ...}."""
        try:
            if isinstance(body, bytes):
                body = body.decode("utf-8")
            if not isinstance(body, Mapping):
                body = json.loads(body)
            if not isinstance(body, Mapping):
                raise RestError("the body must be a JSON object")
            name = body.get("signature_name", DEFAULT_SIGNATURE)
            if not isinstance(name, str):
                raise RestError(f"'signature_name' must be a string; got {type(name).__name__}")
            function = self.signature(name)
            inputs, row_format = parse_predict_body(body, function.structured_input_signature[1])
            outputs = function(**{name: tf.constant(value) for name, value in inputs.items()})
            return format_predict_answer({k: v.numpy() for k, v in outputs.items()}, row_format)
        except (RestError, tf.errors.OpError) as error:
            return {"error": getattr(error, "message", None) or str(error)}
        except json.JSONDecodeError as error:
            return {"error": f"the body is not JSON: {error}"}
        except UnicodeDecodeError as error:
            return {"error": f"the body is not UTF-8 text: {error}"}
        except RecursionError:
            return {"error": "the body is nested too deeply"}
