"""Pretrained weights: converters from torchvision and keras.applications, `weights="imagenet"`.

- `load_torchvision(state_dict_or_file, model)`: torchvision AlexNet/VGG/ResNet state dicts
  (`.pth` with torch, `.safetensors` / `.npz` without);
- `load_keras_applications(model_or_h5_file, model)`: keras.applications VGG16/19 and
  ResNet50/101/152;
- `pretrained_source(name_or_model)`: which public file, normalisation and input size a
  configuration's ImageNet weights use (`SOURCES` is the table);
- `imagenet_class_names()`, `decode_predictions(preds, top=5)`.
"""

from keras_classics.weights.classes import decode_predictions, imagenet_class_names
from keras_classics.weights.convert import CONVERTERS, convert_file
from keras_classics.weights.files import read_keras_h5, read_state_dict
from keras_classics.weights.keras_applications import (
    load_keras_applications,
    load_keras_applications_resnet,
)
from keras_classics.weights.pretrained import SOURCES, PretrainedSource, pretrained_source
from keras_classics.weights.torchvision import import_torchvision, load_torchvision

__all__ = [
    "CONVERTERS",
    "SOURCES",
    "PretrainedSource",
    "convert_file",
    "decode_predictions",
    "imagenet_class_names",
    "import_torchvision",
    "load_keras_applications",
    "load_keras_applications_resnet",
    "load_torchvision",
    "pretrained_source",
    "read_keras_h5",
    "read_state_dict",
]
