"""The names and paths of an export, in one place: serving code, warm-up, clients and docs.

Signature and tensor names are what clients type, so they are chosen for them (not Keras's
`keras_tensor` / `output_0`). The `classify` signature follows TF Serving's Classify API, whose
names are fixed by TF Serving (`inputs`, `classes`, `scores`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

# Signatures.
# The default answers a plain `{"instances": [{"b64": ...}]}`; the float path is `serving_images`
# (docs/serving.md, "Which signature a request names").
SIGNATURE_BYTES = "serving_default"  # encoded JPEG/PNG/GIF/BMP bytes, preprocessed in the graph
SIGNATURE_IMAGES = "serving_images"  # float images, already preprocessed
SIGNATURE_IMAGE_TENSOR = "image_tensor"  # uint8 RGB images of any size, preprocessed in the graph
SIGNATURE_CLASSIFY = "classify"  # serialised tf.Example, TF Serving's Classify API

# Inputs.
INPUT_IMAGES = "images"
INPUT_BYTES = "image_bytes"
INPUT_IMAGE_TENSOR = "image_tensor"  # uint8 [batch, H, W, 3], as TF Model Garden's serving modules
INPUT_EXAMPLES = "inputs"  # TF Serving's kClassifyInputs
EXAMPLE_IMAGE_FEATURE = "image/encoded"  # the tf.Example feature holding the encoded image

# Outputs of the predict signatures.
OUTPUT_LOGITS = "logits"  # float32 [batch, classes]: before the softmax
OUTPUT_PROBABILITIES = "probabilities"  # float32 [batch, classes]
OUTPUT_CLASSES = "classes"  # int32 [batch, k]: indices of the k most probable classes
OUTPUT_CLASS_NAMES = "class_names"  # string [batch, k]: their names
OUTPUT_SCORES = "scores"  # float32 [batch, k]: their probabilities
# Outputs of the classify signature (TF Serving's kClassifyOutputClasses / kClassifyOutputScores:
# there `classes` are the class names, as strings).
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"

# SignatureDef method names (TensorFlow's signature_constants).
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"

# Files inside a version directory, besides saved_model.pb and variables/.
WARMUP_FILE = PurePosixPath("assets.extra/tf_serving_warmup_requests")
METADATA_FILE = PurePosixPath("assets.extra/keras_classics.json")

DEFAULT_TOP_K = 5
# How many images of one batch the in-graph preprocessing holds at once: peak memory is
# O(this x decoded image) + O(batch x model input), not O(batch x decoded image).
PREPROCESS_PARALLELISM = 2
