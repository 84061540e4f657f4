"""Runs an export in a fresh process with TensorFlow alone (no keras_classics, no Keras model
code), as a server would: `python tests/export/fresh_check.py SHARED_DIR OUT_DIR PHOTOGRAPH`.

Writes OUT_DIR/outputs.npz (every signature's answers) and OUT_DIR/results.json (signatures,
warm-up replay, errors for bad requests, and the answers given right after them). Uses both
TF2's `tf.saved_model.load` and TF1's graph-mode loader with a Session (the C++ loader's path).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow_serving.apis import prediction_log_pb2

assert "keras_classics" not in sys.modules

shared, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
version_dir = str(shared / "export" / "1")
images = np.load(shared / "images.npy")
encoded = list(np.load(shared / "encoded.npy", allow_pickle=True))
loaded = tf.saved_model.load(version_dir)
results: dict = {"signatures": {}}
arrays: dict[str, np.ndarray] = {}


def numpy(outputs: dict) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in outputs.items()}


def error_of(call) -> dict:
    try:
        call()
    except Exception as error:  # recorded for the test to judge
        return {"type": type(error).__name__, "message": getattr(error, "message", str(error))}
    return {"type": None, "message": ""}


for name, function in loaded.signatures.items():
    results["signatures"][name] = {
        "inputs": {
            key: [spec.dtype.name, spec.shape.as_list()]
            for key, spec in function.structured_input_signature[1].items()
        },
        "outputs": {
            key: [spec.dtype.name, spec.shape.as_list()]
            for key, spec in function.structured_outputs.items()
        },
    }

images_fn = loaded.signatures["serving_images"]
bytes_fn = loaded.signatures["serving_default"]
classify_fn = loaded.signatures["classify"]
for key, value in numpy(images_fn(images=tf.constant(images))).items():
    arrays[f"images/{key}"] = value
valid = numpy(bytes_fn(image_bytes=tf.constant(encoded)))
for key, value in valid.items():
    arrays[f"bytes/{key}"] = value
# The uint8 signature on the decoded photograph, the bytes signature on its file. The bytes
# signature decodes this 427 x 640 JPEG at 1/2 scale for the export's 37-pixel resize (its
# shorter side stays >= 4 x 37: keras_classics.data.decode.DOWNSCALE_MARGIN), so the client
# decodes it so too.
photograph = Path(sys.argv[3]).read_bytes()
tensor_fn = loaded.signatures["image_tensor"]
photo_tensor = tf.io.decode_jpeg(photograph, ratio=2)[None]
for key, value in numpy(tensor_fn(image_tensor=photo_tensor)).items():
    arrays[f"photo_tensor/{key}"] = value
for key, value in numpy(bytes_fn(image_bytes=tf.constant([photograph]))).items():
    arrays[f"photo_bytes/{key}"] = value
examples = [
    tf.train.Example(
        features=tf.train.Features(
            feature={"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[e]))}
        )
    ).SerializeToString()
    for e in encoded
]
for key, value in numpy(classify_fn(inputs=tf.constant(examples))).items():
    arrays[f"classify/{key}"] = value

# Warm-up: replay every record against the signature it names.
results["warmup"] = []
warmup_path = Path(version_dir) / "assets.extra" / "tf_serving_warmup_requests"
for record in tf.data.TFRecordDataset(str(warmup_path)):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    else:
        request = log.classify_log.request
        serialized = [e.SerializeToString() for e in request.input.example_list.examples]
        inputs = {"inputs": tf.constant(serialized)}
    answer = numpy(loaded.signatures[request.model_spec.signature_name](**inputs))
    results["warmup"].append(
        {
            "kind": kind,
            "signature": request.model_spec.signature_name,
            "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()},
            "outputs": {k: list(v.shape) for k, v in answer.items()},
            "finite": all(np.isfinite(v).all() for v in answer.values() if v.dtype.kind == "f"),
        }
    )

# Bad requests, each followed by the valid one: the model must keep serving.
truncated = encoded[0][: len(encoded[0]) // 2]
bad_bytes = {
    "not_an_image": [encoded[1], b"this is not an image"],
    "empty": [encoded[0], b""],
    "empty_batch": [],
    "truncated_jpeg": [truncated],
}
results["bad_bytes"] = {}
for label, batch in bad_bytes.items():
    error = error_of(lambda b=batch: bytes_fn(image_bytes=tf.constant(b, tf.string)))
    after = numpy(bytes_fn(image_bytes=tf.constant(encoded)))
    error["after_max_diff"] = float(np.abs(after["probabilities"] - valid["probabilities"]).max())
    results["bad_bytes"][label] = error
results["bad_images"] = {
    "16x16": error_of(lambda: images_fn(images=tf.zeros([1, 16, 16, 3]))),
    "1_channel": error_of(lambda: images_fn(images=tf.zeros([1, 32, 32, 1]))),
}

# TF1 graph mode, a Session as TF Serving's C++ loader runs it. The tensors are fed through a
# callable made from CallableOptions, which, like a C++ server, skips the Python client's check
# of the fed shape: only the graph itself can reject a wrong shape.
with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)

    def runner(signature: str):
        signature_def = meta_graph.signature_def[signature]
        (input_info,) = signature_def.inputs.values()
        keys = sorted(signature_def.outputs)
        options = config_pb2.CallableOptions(
            feed=[input_info.name], fetch=[signature_def.outputs[k].name for k in keys]
        )
        call = session._make_callable_from_options(options)
        return lambda value: dict(zip(keys, call(value), strict=True))

    graph_images, graph_bytes = runner("serving_images"), runner("serving_default")
    for key, value in graph_images(images).items():
        arrays[f"graph_images/{key}"] = value
    results["graph_bad_images"] = error_of(
        lambda: graph_images(np.zeros([1, 16, 16, 3], np.float32))
    )
    results["graph_bad_bytes"] = error_of(lambda: graph_bytes(np.array([b"not an image"])))
    for key, value in graph_bytes(np.array(encoded, dtype=object)).items():
        arrays[f"graph_bytes/{key}"] = value

np.savez(out / "outputs.npz", **arrays)
(out / "results.json").write_text(json.dumps(results, indent=1))
print("ok")
