"""keras_classics: AlexNet, VGG and ResNet for Keras 3, exactly as the papers describe them.

The builders and layers are backend-agnostic Keras code; importing this package does not
import TensorFlow unless Keras itself runs on it.
"""

from keras_classics._startup import tensorflow_info_hidden

with tensorflow_info_hidden():  # TF_CPP_MIN_LOG_LEVEL >= 1 then hides TensorFlow's start-up
    import keras  # noqa: F401 (imported here first: TensorFlow with it, when it is the backend)

from keras_classics import layers
from keras_classics.models import *  # noqa: F403 (the builders are the public API)
from keras_classics.models import __all__ as _builders
from keras_classics.models.record import attach_record, model_record
from keras_classics.normalization import PreprocessingRecord
from keras_classics.profile import ModelProfile, count_macs, profile
from keras_classics.registry import get_model, list_models
from keras_classics.weights.inputs import decode_predictions, preprocess_input
from keras_classics.weights.presets import get_preset, list_presets

__version__ = "0.1.0"
__all__ = [
    *_builders,
    "ModelProfile",
    "PreprocessingRecord",
    "attach_record",
    "count_macs",
    "decode_predictions",
    "get_model",
    "get_preset",
    "layers",
    "list_models",
    "list_presets",
    "model_record",
    "preprocess_input",
    "profile",
]


def __getattr__(name: str) -> object:
    """`keras_classics.hub` on first use, so that `import keras_classics` imports no keras_hub."""
    if name == "hub":
        import importlib

        return importlib.import_module("keras_classics.hub")
    raise AttributeError(f"module 'keras_classics' has no attribute {name!r}")
