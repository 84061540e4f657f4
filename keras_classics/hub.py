"""keras-hub interop: a keras_classics model as a keras-hub `Backbone` and `ImageClassifier`.

`classifier(model)` wraps a keras_classics classifier (a builder's model with its top, or a
preset's) as a `ClassicsImageClassifier` whose outputs equal the model's exactly;
`save_to_preset(path)` writes it and `keras_hub.models.ImageClassifier.from_preset(path)` (or
`keras_hub.models.Backbone.from_preset(path)`) reads it back, once this module is imported.

The split (see docs/keras_hub.md):
- `backbone(model)`: the model up to its penultimate features, the input of its `predictions`
  layer (ResNet: `avg_pool`; AlexNet, VGG: fc7 after its dropout), as a 1x1 feature map
  [N, 1, 1, C] (`features_map`), so that keras-hub's `ImageClassifier` pooler (a global average
  over one position) passes them through unchanged. Same layers and weights, not a copy.
- The classifier's `predictions` Dense takes the model's `predictions` weights and activation.
- `RecordImageConverter`: the model's `PreprocessingRecord` (resize the shorter side, centre
  crop, normalise) by `keras_classics.data.evaluation.preprocess_with_record` itself, in
  TensorFlow, as keras-hub runs all its preprocessing.

Needs keras-hub (`pip install keras_classics[hub]`); `import keras_classics` does not import it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import keras

try:
    import keras_hub
except ImportError as error:
    raise ImportError(
        "keras_classics.hub needs keras-hub: pip install keras_classics[hub] "
        f"(importing keras_hub failed: {error})"
    ) from error

from keras_classics.models.common import HEAD_ACTIVATION_LAYER as HEAD_ACTIVATION
from keras_classics.models.common import HEAD_LAYER as HEAD
from keras_classics.models.common import channel_axis
from keras_classics.models.record import model_record
from keras_classics.normalization import PreprocessingRecord

FEATURES_MAP = "features_map"


@keras.saving.register_keras_serializable(package="keras_classics")
class ClassicsBackbone(keras_hub.models.Backbone):
    """A keras_classics feature extractor as a keras-hub `Backbone` (output [N, 1, 1, C]).

    `features` is the extractor: a functional `keras.Model` (`feature_extractor(model)`) or its
    config (as `get_config` writes it and presets store it). Its custom layers (LRN, shortcuts)
    are registered keras_classics objects, so `from_preset` rebuilds them.
    """

    def __init__(self, features: keras.Model | dict[str, Any], **kwargs: Any):
        if isinstance(features, dict):
            features = keras.Model.from_config(features)
        config = features.get_config()
        super().__init__(inputs=features.input, outputs=features.output, **kwargs)
        self.features_config = config

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "features": self.features_config}


@keras.saving.register_keras_serializable(package="keras_classics")
class RecordImageConverter(keras_hub.layers.ImageConverter):
    """RGB images (uint8 or float 0-255, [H, W, 3] or a batch) -> the model's inputs
    (channels first where Keras's image data format says so). As `keras_classics.data.decode`
    (`channels=3`): grayscale (1 channel, or 2 with alpha) is replicated to RGB and alpha dropped.

    The evaluation view of `preprocessing` (a `PreprocessingRecord` or its dict): resize the
    shorter side to `resize_size` (antialiased), crop the centre `image_size` square, normalise
    (also BGR), exactly as `keras_classics.data.evaluation.preprocess_with_record`. keras-hub's
    stock converter cannot express this (it crops the largest centred square, has no
    resize-then-crop and no channel flip); the record decides every resize and scale setting.
    """

    backbone_cls = ClassicsBackbone
    # Settings of the stock converter that the record decides; not separately configurable.
    _DERIVED = (
        "image_size",
        "scale",
        "offset",
        "interpolation",
        "antialias",
        "crop_to_aspect_ratio",
        "pad_to_aspect_ratio",
    )

    def __init__(self, preprocessing: PreprocessingRecord | dict[str, Any], **kwargs: Any):
        if isinstance(preprocessing, dict):
            preprocessing = PreprocessingRecord.from_dict(preprocessing)
        if not isinstance(preprocessing, PreprocessingRecord):
            raise ValueError(
                f"preprocessing must be a PreprocessingRecord; got {type(preprocessing).__name__}"
            )
        for key in self._DERIVED:
            kwargs.pop(key, None)
        size = preprocessing.image_size
        super().__init__(
            image_size=(size, size),
            interpolation=preprocessing.interpolation,
            antialias=True,
            **kwargs,
        )
        self.preprocessing = preprocessing

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf

        from keras_classics.data.evaluation import preprocess_with_record

        size = self.preprocessing.image_size
        images = inputs if tf.is_tensor(inputs) else tf.constant(keras.ops.convert_to_numpy(inputs))
        if images.shape.rank in (3, 4):
            images = _rgb(images)
        if images.shape.rank == 3:
            outputs = preprocess_with_record(images, self.preprocessing)
        elif images.shape.rank == 4:
            outputs = tf.map_fn(
                lambda image: preprocess_with_record(image, self.preprocessing),
                images,
                fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
            )
        else:
            raise ValueError(
                f"RecordImageConverter takes RGB images [H, W, 3] or [N, H, W, 3]; got shape "
                f"{images.shape}"
            )
        if self.data_format == "channels_first":
            outputs = tf.experimental.numpy.moveaxis(outputs, -1, -3)
        if tf.executing_eagerly() and keras.backend.backend() != "tensorflow":
            return keras.ops.convert_to_tensor(outputs.numpy())
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in self._DERIVED:
            config.pop(key, None)
        return {**config, "preprocessing": self.preprocessing.to_dict()}


def _rgb(images: Any) -> Any:
    """[..., C] images as RGB [..., 3], as `decode_image` (`channels=3`) gives them: grayscale
    (C=1, or 2 with alpha) replicated, alpha (C=4) dropped; any other C is an error."""
    import tensorflow as tf

    channels = images.shape[-1]
    if channels in (1, 2):
        return tf.repeat(images[..., :1], 3, axis=-1)
    if channels == 4:
        return images[..., :3]
    if channels not in (3, None):
        raise ValueError(
            f"RecordImageConverter takes RGB [H, W, 3] images (or grayscale 1, gray+alpha 2, "
            f"RGBA 4 channels); got shape {images.shape} with {channels} channels"
        )
    return images


@keras.saving.register_keras_serializable(package="keras_classics")
class ClassicsImageClassifierPreprocessor(keras_hub.models.ImageClassifierPreprocessor):
    """keras-hub's image classifier preprocessor with a `RecordImageConverter`."""

    backbone_cls = ClassicsBackbone
    image_converter_cls = RecordImageConverter


@keras.saving.register_keras_serializable(package="keras_classics")
class ClassicsImageClassifier(keras_hub.models.ImageClassifier):
    """keras-hub's `ImageClassifier` over a `ClassicsBackbone` (what `from_preset` builds)."""

    backbone_cls = ClassicsBackbone
    preprocessor_cls = ClassicsImageClassifierPreprocessor

    def __init__(self, *args: Any, compile: bool = True, **kwargs: Any):
        # keras-hub compiles inside Task.__init__, before `self.activation` is set, so its
        # "auto" loss always took logits; compile once the head's activation is known.
        super().__init__(*args, compile=False, **kwargs)
        if compile and _from_logits(self.activation) is not None:
            self.compile()

    def compile(self, optimizer: Any = "auto", loss: Any = "auto", **kwargs: Any) -> None:
        """keras-hub's `compile` (Adam 5e-5, sparse categorical accuracy), with `loss="auto"`
        a `SparseCategoricalCrossentropy` that matches the head: probabilities
        (`from_logits=False`) after a softmax, logits (`from_logits=True`) after a linear head;
        any other head activation needs an explicit `loss` (and is not compiled by default)."""
        if isinstance(loss, str) and loss == "auto":
            from_logits = _from_logits(self.activation)
            if from_logits is None:
                raise ValueError(
                    f"compile(loss='auto') picks a cross-entropy for a softmax or linear head; "
                    f"this head's activation is {self.activation!r}: pass loss= explicitly"
                )
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)


def _from_logits(activation: Any) -> bool | None:
    """Whether a head with `activation` gives logits (linear, None: True), probabilities
    (softmax: False) or neither (None)."""
    function = keras.activations.get(activation)
    if function is keras.activations.softmax:
        return False
    if function is keras.activations.linear:
        return True
    return None


def _head(model: keras.Model) -> tuple[keras.layers.Dense, Any]:
    """`model`'s `predictions` Dense and the activation of its output (its own, or that of
    `predictions_activation`); a model whose output is not its classifier's, or not float32,
    is an error."""
    names = [layer.name for layer in model.layers]
    if HEAD not in names:
        raise ValueError(
            f"model {model.name!r} has no {HEAD!r} layer: keras_classics.hub wraps a classifier "
            "built with include_top=True"
        )
    head = model.get_layer(HEAD)
    if head.dtype_policy.name != "float32":
        raise ValueError(
            f"keras_classics.hub wraps float32 models; {model.name!r} was built under the "
            f"{head.dtype_policy.name!r} dtype policy (keras-hub 0.32 cannot read such a preset "
            "back, and its head would compute the softmax in that policy's dtype)"
        )
    last = model.get_layer(HEAD_ACTIVATION) if HEAD_ACTIVATION in names else head
    if model.output is not last.output:
        raise ValueError(
            f"model {model.name!r} must end in its classifier ({last.name!r}) to be wrapped as a "
            f"keras-hub ImageClassifier; its output comes from {model.output.name!r}"
        )
    return head, last.activation


def feature_extractor(model: keras.Model) -> keras.Model:
    """`model`'s graph up to the input of its `predictions` layer, as a [N, 1, 1, C] map."""
    features = _head(model)[0].input
    units = features.shape[-1]
    shape = (1, 1, units) if channel_axis() == -1 else (units, 1, 1)
    features_map = keras.layers.Reshape(shape, name=FEATURES_MAP)(features)
    return keras.Model(model.input, features_map, name=f"{model.name}_features")


def backbone(model: keras.Model) -> ClassicsBackbone:
    """`model`'s feature extractor (its layers and weights, not a copy) as a keras-hub backbone."""
    return ClassicsBackbone(feature_extractor(model), name=f"{model.name}_backbone")


def classifier(
    model: keras.Model | str | os.PathLike[str], record: PreprocessingRecord | None = None
) -> ClassicsImageClassifier:
    """`model` (or a `.keras` file's path, loaded with `safe_mode=True`) as a keras-hub
    `ImageClassifier` whose outputs equal `model`'s exactly.

    `record` (default: the one `model` carries, `keras_classics.model_record`) gives the
    preprocessor its `RecordImageConverter`. Without one the classifier has no preprocessor: it
    (and a preset saved from it) takes the model's own preprocessed inputs, not raw images, and
    a one-line warning says so.
    """
    if isinstance(model, (str, os.PathLike)):
        model = keras.saving.load_model(model, safe_mode=True)
    if not isinstance(model, keras.Model):
        raise ValueError(
            "classifier takes a keras.Model or the path of a .keras file; "
            f"got {type(model).__name__}"
        )
    head, activation = _head(model)
    record = record if record is not None else model_record(model)
    preprocessor = None
    if record is not None:
        preprocessor = ClassicsImageClassifierPreprocessor(RecordImageConverter(record))
    else:
        warnings.warn(
            f"model {model.name!r} has no preprocessing record: its keras-hub classifier takes "
            "the model's preprocessed inputs, not raw images (pass record= for a converter)",
            stacklevel=2,
        )
    task = ClassicsImageClassifier(
        backbone=backbone(model),
        num_classes=head.units,
        preprocessor=preprocessor,
        activation=keras.activations.serialize(activation),
        name=f"{model.name}_classifier",
    )
    task.output_dense.set_weights(head.get_weights())
    return task
