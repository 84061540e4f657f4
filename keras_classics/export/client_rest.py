"""TF Serving's REST API over HTTP: predict, classify, regress, model status and metadata, for one
model (and a version or a version label); every failure is one `ServingError`.

    server = RestClient("localhost", 8501, "resnet50", label="stable")
    answer = server.predict(client.rest_body(images))        # {"predictions": [...]}
    classify_results(server.classify(client.classify_body(images)))
    version_states(server.status())                          # {1: "AVAILABLE"}

The answers' parsers (`rest_outputs`, `classify_results`, ...) follow TF Serving's answer forms.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keras_classics.export.client import ServingError, check_version, rest_url


def request_json(
    url: str, body: Mapping[str, Any] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """GETs `url` (no body) or POSTs `body` as JSON; returns the decoded JSON answer.

    Raises ServingError when the server cannot be reached, times out or closes the connection,
    answers an HTTP error (with TF Serving's `{"error": message}` body or any other), or answers
    something not JSON.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read()
    except urllib.error.HTTPError as error:
        raise ServingError(
            url, f"answered HTTP {error.code}", _error_message(error.read())
        ) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, (TimeoutError, socket.timeout)):
            raise ServingError(
                url, f"did not answer within {timeout:g} s", str(error.reason)
            ) from None
        raise ServingError(url, "is unreachable", str(error.reason)) from None
    except TimeoutError as error:  # a read that stalls after the connection
        raise ServingError(url, f"did not answer within {timeout:g} s", str(error)) from None
    except (http.client.HTTPException, ConnectionError) as error:
        # Accepted, then closed or reset (RemoteDisconnected, IncompleteRead, a bad status line).
        raise ServingError(url, "connection closed", _describe(error)) from None
    except OSError as error:
        raise ServingError(url, "connection failed", _describe(error)) from None
    try:
        answer = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ServingError(url, "answered HTTP 200", f"not JSON ({error}): {text[:80]!r}") from None
    if not isinstance(answer, dict):
        raise ServingError(url, "answered HTTP 200", f"not a JSON object: {text[:80]!r}")
    return answer


def _describe(error: Exception) -> str:
    """An exception as one line: its type and its message (some, like BadStatusLine, only hold
    the offending text)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _error_message(text: bytes) -> str:
    """TF Serving's `{"error": message}`, else the body itself (a proxy's HTML page, say)."""
    try:
        answer = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return text.decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return answer["error"]
    return json.dumps(answer)


@dataclass(frozen=True)
class RestClient:
    """One model on one TF Serving REST endpoint; `version` or `label` picks a version (default:
    the server's, the newest)."""

    host: str
    port: int
    model_name: str
    version: int | None = None
    label: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_version(self.version, self.label)

    def url(self, verb: str) -> str:
        """This model's URL for `verb` (predict, classify, regress, status, metadata)."""
        return rest_url(self.host, self.port, self.model_name, self.version, verb, label=self.label)

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`:predict`: `{"predictions": ...}` for a row body, `{"outputs": ...}` for a columnar
        one (`rest_outputs` reads both)."""
        return request_json(self.url("predict"), body, self.timeout)

    def classify(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`:classify`: `{"results": [[[label, score], ...], ...]}` (`classify_results`)."""
        return request_json(self.url("classify"), body, self.timeout)

    def regress(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`:regress`: `{"results": [value, ...]}` (`regress_results`)."""
        return request_json(self.url("regress"), body, self.timeout)

    def status(self) -> dict[str, Any]:
        """`GET` the model: `{"model_version_status": [{"version", "state", "status"}]}`, every
        version unless one is named (`version_states`)."""
        return request_json(self.url("status"), None, self.timeout)

    def metadata(self) -> dict[str, Any]:
        """`GET .../metadata`: `{"model_spec": ..., "metadata": {"signature_def": ...}}`
        (`metadata_signatures`)."""
        return request_json(self.url("metadata"), None, self.timeout)


def rest_outputs(response: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A REST predict answer (either format) as {output name: per-image values}.

    Row answers are `{"predictions": [{name: value}, ...]}`, columnar ones `{"outputs": {name:
    [values]}}`; a signature with a single output gives bare values in both, which this cannot
    name: such answers are rejected.
    """
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


def _results(response: Mapping[str, Any], verb: str) -> list[Any]:
    # TF Serving writes "results" (json_tensor.cc); its api_rest.md's prose says "result".
    for key in ("results", "result"):
        if isinstance(response.get(key), list):
            return response[key]
    raise ValueError(f"not a {verb} answer: expected a 'results' list, got {list(response)}")


def classify_results(response: Mapping[str, Any]) -> list[list[tuple[str, float]]]:
    """A `:classify` answer `{"results": [[[label, score], ...], ...]}` as, per example, its
    (label, score) pairs in the server's order."""
    try:
        return [
            [(str(label), float(score)) for label, score in pairs]
            for pairs in _results(response, "classify")
        ]
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"a classify answer holds [[label, score], ...] per example: {error}"
        ) from None


def regress_results(response: Mapping[str, Any]) -> list[float]:
    """A `:regress` answer `{"results": [value, ...]}` as one float per example."""
    try:
        return [float(value) for value in _results(response, "regress")]
    except (TypeError, ValueError) as error:
        raise ValueError(f"a regress answer holds one number per example: {error}") from None


def version_states(response: Mapping[str, Any]) -> dict[int, str]:
    """A model status answer `{"model_version_status": [{"version": "1", "state": "AVAILABLE",
    ...}]}` (REST, or a GetModelStatusResponse as JSON) as {version: state}."""
    statuses = response.get("model_version_status")
    if not isinstance(statuses, list):
        raise ValueError(f"not a model status answer: got {list(response)}")
    return {int(status["version"]): status["state"] for status in statuses}


def metadata_signatures(response: Mapping[str, Any]) -> dict[str, Any]:
    """A model metadata answer `{"model_spec": {...}, "metadata": {"signature_def":
    {"signature_def": {name: SignatureDef as JSON}}}}` as {signature name: its SignatureDef}."""
    try:
        return dict(response["metadata"]["signature_def"]["signature_def"])
    except (KeyError, TypeError):
        raise ValueError(f"not a model metadata answer: got {list(response)}") from None
