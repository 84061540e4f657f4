"""The serving signatures of an image classifier and `export_saved_model`, which writes them as a
versioned SavedModel for TF Serving.

Signatures (names in `spec`; docs/serving.md has the table):
- `serving_default`: `image_bytes` string [batch] of encoded JPEG/PNG/GIF/BMP images, decoded,
  resized, centre-cropped and normalised in the graph by `keras_classics.data.evaluation` (the
  one definition of the evaluation pipeline), image by image, so one batch may mix sizes: a
  plain `{"instances": [{"b64": ...}]}` request needs no signature name;
- `image_tensor`: `image_tensor` uint8 [batch, H, W, 3] of any size, preprocessed in the graph
  as the bytes are once decoded;
- `serving_images`: `images` float32 [batch, H, W, 3], already preprocessed (channels last);
- all three answer `logits` and `probabilities` float32 [batch, classes], `classes` int32
  [batch, k], `class_names` string [batch, k] and `scores` float32 [batch, k] (the top-k
  probabilities);
- `classify`: TF Serving's Classify API (method `tensorflow/serving/classify`) over serialised
  tf.Example protos with the encoded image under `image/encoded`: `classes` (names) and `scores`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from keras_classics.data.evaluation import decode_image, eval_resize_size, preprocess_with_record
from keras_classics.export import spec
from keras_classics.export.labels import check_class_names
from keras_classics.export.versions import atomic_version_dir, resolve_version
from keras_classics.export.warmup import warmup_logs, write_warmup_file
from keras_classics.models.record import model_record
from keras_classics.normalization import Normalization, PreprocessingRecord, get_normalization

LOG = logging.getLogger(__name__)
# What a model without a record is exported with unless told (the papers' mean subtraction).
ASSUMED_NORMALIZATION = "mean"
ASSUMED = {
    "normalization": f"normalization={ASSUMED_NORMALIZATION!r}",
    "image_size": "image_size=the model's input size",
    "resize_size": "resize_size=image_size / 0.875",
}

# The model's last activation decides whether `probabilities` needs a softmax.
PROBABILITY_ACTIVATIONS = ("softmax",)
LOGIT_ACTIVATIONS = ("linear",)


@dataclass(frozen=True)
class ServingConfig:
    """What the signatures need to know besides the model; also written to the metadata file."""

    image_size: int
    resize_size: int
    normalization: str
    interpolation: str
    class_names: tuple[str, ...]
    top_k: int
    channels_first: bool
    softmax_logits: bool  # the model outputs logits: `probabilities` applies a softmax
    preprocessing_from: str  # "the model's record", "the export arguments" or what was assumed

    @property
    def record(self) -> PreprocessingRecord:
        """The preprocessing the export serves, as a record (also in the metadata file)."""
        return PreprocessingRecord(
            self.normalization,
            self.image_size,
            self.resize_size,
            self.interpolation,
            self.class_names,
            source=self.preprocessing_from,
        )


def model_image_size(model: keras.Model) -> tuple[int | None, bool]:
    """(square input size or None when any size is accepted, channels_first) of an image model
    with one RGB input; a clear ValueError otherwise."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(f"model {model.name!r} must take one image batch [batch, H, W, C]")
    shape = tuple(model.inputs[0].shape[1:])
    channels_first = shape[-1] != 3 and shape[0] == 3
    if not channels_first and shape[-1] != 3:
        raise ValueError(f"model {model.name!r} takes input {shape}; serving needs 3 RGB channels")
    height, width = shape[1:] if channels_first else shape[:2]
    if height != width:
        raise ValueError(
            f"model {model.name!r} takes {height}x{width} inputs; serving feeds square centre "
            "crops: build it with a square or unknown (None) input size"
        )
    return height, channels_first


def outputs_logits(model: keras.Model) -> bool:
    """Whether the model's output is logits (linear last activation) rather than probabilities
    (softmax); other activations raise a ValueError naming both choices."""
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(
            f"model {model.name!r} must output one [batch, classes] tensor (include_top=True)"
        )
    layer = model.outputs[0]._keras_history.operation  # the layer computing the output
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    if name in PROBABILITY_ACTIVATIONS:
        return False
    if name in LOGIT_ACTIVATIONS:
        return True
    raise ValueError(
        f"the output layer {layer.name!r} of model {model.name!r} has activation "
        f"{name or activation!r}; exporting needs {PROBABILITY_ACTIVATIONS} (probabilities) or "
        f"{LOGIT_ACTIVATIONS} (logits, classifier_activation=None)"
    )


def logits_and_outputs(model: keras.Model) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A function images -> (logits, model outputs), in float32, in one pass.

    The logits are the model's own pre-softmax values: its output when the last activation is
    linear, else the input of its final softmax `Activation` layer (the zoo's
    `predictions_activation`), or the pre-activation of a final `Dense(activation="softmax")`.
    """
    layer = model.outputs[0]._keras_history.operation
    if outputs_logits(model):
        return lambda images: (tf.cast(model(images, training=False), tf.float32),) * 2
    heads = keras.Model(model.inputs, [layer.input, model.outputs[0]])

    def call(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        before, outputs = heads(images, training=False)
        if isinstance(layer, keras.layers.Dense):  # softmax inside the Dense layer
            before = tf.matmul(before, layer.kernel)
            before = before + layer.bias if layer.use_bias else before
        return tf.cast(before, tf.float32), tf.cast(outputs, tf.float32)

    if not isinstance(layer, (keras.layers.Activation, keras.layers.Dense)):
        raise ValueError(
            f"the softmax of model {model.name!r} is computed by {type(layer).__name__} "
            f"{layer.name!r}: exporting needs an Activation or Dense layer, to serve the logits"
        )
    return call


def export_preprocessing(
    model: keras.Model,
    *,
    class_names: Sequence[str] | None = None,
    normalization: str | Normalization | None = None,
    image_size: int | None = None,
    resize_size: int | None = None,
    override_record: bool = False,
) -> tuple[dict[str, Any], str]:
    """The preprocessing to serve and where it comes from.

    A model with a record (`keras_classics.models.record`) is served with it; an explicit
    argument that contradicts it is a ValueError naming both, unless `override_record`. A model
    without one takes the arguments, and what is not given is assumed (the papers' "mean"
    normalisation, the model's input size, the ImageNet resize ratio, default class names);
    the second value says which.
    """
    if isinstance(class_names, (str, bytes)):
        raise ValueError("class_names must be a sequence of strings, not one string")
    given = {
        "normalization": None if normalization is None else get_normalization(normalization).name,
        "image_size": image_size,
        "resize_size": resize_size,
        "class_names": None if class_names is None else tuple(class_names),
    }
    given = {key: value for key, value in given.items() if value is not None}
    record = model_record(model)
    if record is None:
        assumed = {"normalization": ASSUMED_NORMALIZATION, "image_size": None, "resize_size": None}
        missing = [ASSUMED[key] for key in assumed if key not in given]
        origin = "the export arguments"
        if missing:
            origin = f"{origin}; the model has no record, so assumed {', '.join(missing)}"
        return {"interpolation": "bilinear", "class_names": None, **assumed, **given}, origin
    wrong = {key: value for key, value in given.items() if value != getattr(record, key)}
    if wrong and not override_record:
        described = "; ".join(
            f"{key}={_short(value)} but the record says {_short(getattr(record, key))}"
            for key, value in wrong.items()
        )
        raise ValueError(
            f"the export arguments contradict the preprocessing record of model "
            f"{model.name!r} (from {record.source or 'its producer'}): {described}. Leave them "
            "out to serve the record, or force them with override_record=True "
            "(export.py --override-record)"
        )
    origin = f"the model's record ({record.source or 'no source given'})"
    if wrong:
        origin = f"{origin}, overridden: {', '.join(wrong)}"
    return {**{k: getattr(record, k) for k in record.to_dict() if k != "source"}, **given}, origin


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) > 3:
        return f"{len(value)} names ({', '.join(value[:3])}, ...)"
    return repr(value)


def serving_config(
    model: keras.Model,
    *,
    class_names: Sequence[str] | None = None,
    normalization: str | Normalization | None = None,
    image_size: int | None = None,
    resize_size: int | None = None,
    top_k: int = spec.DEFAULT_TOP_K,
    override_record: bool = False,
) -> ServingConfig:
    """Checks the export arguments against the model and its record; fills in the defaults."""
    softmax_logits = outputs_logits(model)
    values, origin = export_preprocessing(
        model,
        class_names=class_names,
        normalization=normalization,
        image_size=image_size,
        resize_size=resize_size,
        override_record=override_record,
    )
    image_size, resize_size = values["image_size"], values["resize_size"]
    model_size, channels_first = model_image_size(model)
    if image_size is None:
        if model_size is None:
            raise ValueError(
                f"model {model.name!r} accepts any input size: pass image_size, the size of "
                "the centre crop it is served"
            )
        image_size = model_size
    elif model_size is not None and image_size != model_size:
        raise ValueError(f"image_size={image_size} but model {model.name!r} takes {model_size}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    resize_size = eval_resize_size(image_size) if resize_size is None else resize_size
    if (
        isinstance(resize_size, bool)
        or not isinstance(resize_size, int)
        or resize_size < image_size
    ):
        raise ValueError(
            f"resize_size must be an int >= image_size {image_size}; got {resize_size!r}"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive int; got {top_k!r}")
    classes = model.outputs[0].shape[-1]
    log = LOG.warning if "assumed" in origin else LOG.info
    log("serving %s with the preprocessing of %s", model.name, origin)
    return ServingConfig(
        image_size=image_size,
        resize_size=resize_size,
        normalization=values["normalization"],
        interpolation=values["interpolation"],
        class_names=tuple(check_class_names(values["class_names"], classes)),
        top_k=min(top_k, classes),
        channels_first=channels_first,
        softmax_logits=softmax_logits,
        preprocessing_from=origin,
    )


# (offset, bytes) that mark every format `tf.io.decode_image` reads: JPEG, PNG, GIF, BMP, WebP,
# JPEG XL (codestream and container).
IMAGE_MAGIC = (
    (0, b"\xff\xd8\xff"),
    (0, b"\x89PNG"),
    (0, b"GIF8"),
    (0, b"BM"),
    (8, b"WEBP"),
    (0, b"\xff\x0a"),
    (4, b"JXL "),
)
IMAGE_FORMATS = "a JPEG, PNG, GIF, BMP, WebP or JPEG XL image"


def known_image_format(encoded: tf.Tensor) -> tf.Tensor:
    """bool [batch]: whether each string starts as an image `decode_image` reads."""
    padded = encoded + b"\0" * max(offset + len(magic) for offset, magic in IMAGE_MAGIC)
    matches = [
        tf.strings.substr(padded, offset, len(magic)) == magic for offset, magic in IMAGE_MAGIC
    ]
    return tf.reduce_any(matches, axis=0)


def check_batch(tensor: tf.Tensor, name: str) -> tf.Operation:
    """An InvalidArgument for an empty batch, naming the input."""
    return tf.debugging.assert_positive(
        tf.shape(tensor)[0], message=f"{name} is an empty batch: send at least one image"
    )


class ClassifierSignatures:
    """The serving functions of `model`; each argument name is the signature's input name."""

    def __init__(self, model: keras.Model, config: ServingConfig) -> None:
        self.model = model
        self.config = config
        self.record = config.record
        self.logits_and_outputs = logits_and_outputs(model)

    def preprocess(self, image: tf.Tensor) -> tf.Tensor:
        """One uint8 image [H, W, 3] -> the model's float32 input [size, size, 3] (the
        evaluation pipeline: resize the shorter side, centre crop, normalise)."""
        return preprocess_with_record(image, self.record)

    def preprocess_batch(self, images: tf.Tensor, one: Callable) -> tf.Tensor:
        """`one` over the batch, at most `spec.PREPROCESS_PARALLELISM` images at a time."""
        size = self.config.image_size
        return tf.map_fn(
            one,
            images,
            fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
            parallel_iterations=spec.PREPROCESS_PARALLELISM,
        )

    def predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """`serving_images`: preprocessed float images [batch, H, W, 3] -> predictions."""
        size = self.config.image_size
        check = tf.debugging.assert_equal(
            tf.shape(images)[1:],
            tf.constant([size, size, 3]),
            message=f"{spec.INPUT_IMAGES} must have shape [batch, {size}, {size}, 3]",
        )
        with tf.control_dependencies([check, check_batch(images, spec.INPUT_IMAGES)]):
            return self._predictions(tf.identity(images))

    def image_tensor(self, image_tensor: tf.Tensor) -> dict[str, tf.Tensor]:
        """`image_tensor`: uint8 images [batch, H, W, 3] of any size -> predictions."""
        with tf.control_dependencies([check_batch(image_tensor, spec.INPUT_IMAGE_TENSOR)]):
            images = self.preprocess_batch(tf.identity(image_tensor), self.preprocess)
        return self._predictions(images)

    def predict_bytes(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """`serving_default`: encoded images [batch] -> predictions. An empty string or bytes
        of no known image format is an InvalidArgument naming its index in the batch."""
        unknown = tf.where(~known_image_format(image_bytes))[:, 0]
        checks = [
            check_batch(image_bytes, spec.INPUT_BYTES),
            tf.debugging.Assert(
                tf.size(unknown) == 0,
                [
                    f"{spec.INPUT_BYTES} holds empty strings or bytes that are not "
                    f"{IMAGE_FORMATS}, at these indices:",
                    unknown,
                ],
            ),
        ]
        with tf.control_dependencies(checks):
            images = self.preprocess_batch(
                tf.identity(image_bytes),
                lambda encoded: self.preprocess(
                    decode_image(encoded, min_side=self.config.resize_size)
                ),
            )
        return self._predictions(images)

    def classify(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        """`classify`: serialised tf.Example [batch] -> top-k class names and scores."""
        features = tf.io.parse_example(
            inputs, {spec.EXAMPLE_IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)}
        )
        outputs = self.predict_bytes(features[spec.EXAMPLE_IMAGE_FEATURE])
        return {
            spec.CLASSIFY_CLASSES: outputs[spec.OUTPUT_CLASS_NAMES],
            spec.CLASSIFY_SCORES: outputs[spec.OUTPUT_SCORES],
        }

    def _predictions(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.config.channels_first:
            images = tf.transpose(images, [0, 3, 1, 2])
        logits, outputs = self.logits_and_outputs(images)
        probabilities = tf.nn.softmax(logits) if self.config.softmax_logits else outputs
        scores, classes = tf.math.top_k(probabilities, k=self.config.top_k)
        names = tf.gather(tf.constant(self.config.class_names), classes)
        return {
            spec.OUTPUT_LOGITS: logits,
            spec.OUTPUT_PROBABILITIES: probabilities,
            spec.OUTPUT_CLASSES: classes,
            spec.OUTPUT_CLASS_NAMES: names,
            spec.OUTPUT_SCORES: scores,
        }


def build_archive(model: keras.Model, config: ServingConfig) -> keras.export.ExportArchive:
    """A Keras ExportArchive holding the model's variables and the four signatures."""
    signatures = ClassifierSignatures(model, config)
    size = config.image_size
    archive = keras.export.ExportArchive()
    archive.track(model)
    endpoints = (
        (spec.SIGNATURE_BYTES, signatures.predict_bytes, [], tf.string),
        (spec.SIGNATURE_IMAGE_TENSOR, signatures.image_tensor, [None, None, 3], tf.uint8),
        (spec.SIGNATURE_IMAGES, signatures.predict_images, [size, size, 3], tf.float32),
        (spec.SIGNATURE_CLASSIFY, signatures.classify, [], tf.string),
    )
    for name, function, shape, dtype in endpoints:
        input_name = function.__code__.co_varnames[1]  # the signature's input name
        archive.add_endpoint(
            name, function, input_signature=[tf.TensorSpec([None, *shape], dtype, name=input_name)]
        )
    return archive


def set_method_name(saved_model_dir: str | os.PathLike, signature: str, method: str) -> None:
    """Sets one SignatureDef's method name in saved_model.pb.

    TF2's saver writes every signature as `tensorflow/serving/predict` and has no public way to
    choose another; TF Serving's Classify API refuses any signature whose method is not
    `tensorflow/serving/classify`. So the written file is edited through the SavedModel format's
    protobuf schema (`tensorflow.core.protobuf`), and the optional `fingerprint.pb`, which would
    no longer match it and which TensorFlow has no public writer for, is removed.
    tests/export/test_serving.py checks the result with `saved_model_cli show --all`.
    """
    path = Path(saved_model_dir) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        meta_graph.signature_def[signature].method_name = method
    path.write_bytes(saved_model.SerializeToString(deterministic=True))
    (Path(saved_model_dir) / "fingerprint.pb").unlink(missing_ok=True)


def export_saved_model(
    model: keras.Model,
    export_base: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    normalization: str | Normalization | None = None,
    image_size: int | None = None,
    resize_size: int | None = None,
    version: int | None = None,
    top_k: int = spec.DEFAULT_TOP_K,
    warmup: bool = True,
    override_record: bool = False,
) -> Path:
    """Exports `model` for TF Serving as `<export_base>/<version>/`; returns that directory.

    Args:
        model: a Keras image classifier with one RGB input and one [batch, classes] output
            ending in softmax (probabilities) or a linear activation (logits, which
            `probabilities` turns into probabilities with a softmax); any data format, dtype
            policy or distribution strategy it was built under.
        export_base: the model's base path for TF Serving (created if missing).
        class_names, normalization, image_size, resize_size: the preprocessing. By default
            the model's own record (a preset's weights, a training run's `model.keras`); an
            argument that contradicts it is a ValueError unless `override_record`. A model
            without a record takes them as given, else assumes normalization "mean", the
            model's input size, `eval_resize_size(image_size)` (256 for 224) and
            `labels.default_class_names`, and logs what it assumed.
        version: the integer version (default: one more than the newest); an existing version
            is never overwritten: FileExistsError.
        top_k: how many classes `classes`, `class_names` and `scores` list (at most all).
        warmup: write `assets.extra/tf_serving_warmup_requests`.
        override_record: serve explicit arguments that contradict the model's record.

    The version is written under a temporary name and renamed into place when complete.
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"exporting a SavedModel needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
            f"this process runs {keras.backend.backend()!r}"
        )
    config = serving_config(
        model,
        class_names=class_names,
        normalization=normalization,
        image_size=image_size,
        resize_size=resize_size,
        top_k=top_k,
        override_record=override_record,
    )
    version = resolve_version(export_base, version)
    archive = build_archive(model, config)
    with atomic_version_dir(export_base, version) as directory:
        archive.write_out(os.fspath(directory), verbose=False)
        set_method_name(directory, spec.SIGNATURE_CLASSIFY, spec.CLASSIFY_METHOD)
        metadata = {
            "model": model.name,
            "version": version,
            **asdict(config),
            "preprocessing": config.record.to_dict(),
        }
        (directory / spec.METADATA_FILE).parent.mkdir(exist_ok=True)
        (directory / spec.METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if warmup:
            write_warmup_file(directory, warmup_logs(config.image_size))
    return Path(export_base) / str(version)


def read_metadata(version_dir: str | os.PathLike) -> dict[str, Any]:
    """The export's `assets.extra/keras_classics.json` (sizes, normalisation, class names; the
    served preprocessing record under "preprocessing")."""
    return json.loads((Path(version_dir) / spec.METADATA_FILE).read_text())
