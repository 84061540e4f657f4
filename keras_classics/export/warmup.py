"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these requests when it loads a version, before it marks the version
available, so the first real request does not pay for graph optimisation and kernel set-up
(https://www.tensorflow.org/tfx/serving/saved_model_warmup). The file is TFRecords of
`tensorflow.serving.PredictionLog` protos (at most 1000 are read).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_classics.export import client, samples, spec

# Warm-up images: small, of two aspect ratios and both encodings, so that decoding, the
# aspect-dependent resize and a batch of mixed sizes are all exercised once.
WARMUP_IMAGES = ((120, 160, "jpeg"), (160, 120, "png"))


def warmup_logs(
    image_size: int, *, classify: bool = True
) -> list[prediction_log_pb2.PredictionLog]:
    """Requests for every signature: image bytes (batch 1 and 2), a uint8 image tensor
    (batch 1), float images (batch 1) and, when `classify`, a Classify request with one
    tf.Example."""
    encoded = [
        samples.sample_encoded(h, w, fmt, seed=i) for i, (h, w, fmt) in enumerate(WARMUP_IMAGES)
    ]
    requests = [
        client.bytes_predict_request(encoded[:1]),
        client.bytes_predict_request(encoded),
        client.predict_request(
            {spec.INPUT_IMAGE_TENSOR: np.zeros((1, *WARMUP_IMAGES[0][:2], 3), np.uint8)},
            signature_name=spec.SIGNATURE_IMAGE_TENSOR,
        ),
        client.predict_request(
            {spec.INPUT_IMAGES: np.zeros((1, image_size, image_size, 3), np.float32)},
            signature_name=spec.SIGNATURE_IMAGES,
        ),
    ]
    logs = [
        prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=r))
        for r in requests
    ]
    if classify:
        request = client.classify_request(encoded[:1])
        logs.append(
            prediction_log_pb2.PredictionLog(
                classify_log=prediction_log_pb2.ClassifyLog(request=request)
            )
        )
    return logs


def write_warmup_file(
    version_dir: str | os.PathLike, logs: list[prediction_log_pb2.PredictionLog]
) -> Path:
    """Writes `logs` as TFRecords to `<version_dir>/assets.extra/tf_serving_warmup_requests`."""
    path = Path(version_dir) / spec.WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(os.fspath(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup_file(path: str | os.PathLike) -> list[prediction_log_pb2.PredictionLog]:
    """The PredictionLog records of a warm-up file (a version directory or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / spec.WARMUP_FILE
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(os.fspath(path))
    ]
