"""Pretrained weights: named presets, converters from torchvision and keras.applications.

- `list_presets()`, `get_preset(name)`: the presets (`<model>.<tag>`, e.g. "resnet50.tv_in1k"),
  each with its file, licence, published accuracy and preprocessing record (`PRESETS`);
- `load_torchvision(state_dict_or_file, model)`: torchvision AlexNet/VGG/ResNet state dicts
  (`.pth` read without torch by a restricted unpickler, `.safetensors`, `.npz`);
- `load_keras_applications(model_or_h5_file, model)`: keras.applications VGG16/19 and
  ResNet50/101/152;
- `preprocess_input(x, preset_or_model)`, `decode_predictions(preds, top=5)`,
  `imagenet_class_names()`.
"""

from keras_classics.weights.classes import imagenet_class_names
from keras_classics.weights.convert import CONVERTERS, convert_file
from keras_classics.weights.files import read_keras_h5, read_state_dict
from keras_classics.weights.inputs import decode_predictions, preprocess_input, record_of
from keras_classics.weights.keras_applications import (
    load_keras_applications,
    load_keras_applications_resnet,
)
from keras_classics.weights.presets import PRESETS, Preset, get_preset, list_presets
from keras_classics.weights.torchvision import import_torchvision, load_torchvision

__all__ = [
    "CONVERTERS",
    "PRESETS",
    "Preset",
    "convert_file",
    "decode_predictions",
    "get_preset",
    "imagenet_class_names",
    "import_torchvision",
    "list_presets",
    "load_keras_applications",
    "load_keras_applications_resnet",
    "load_torchvision",
    "preprocess_input",
    "read_keras_h5",
    "read_state_dict",
    "record_of",
]
