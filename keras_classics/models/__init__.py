"""Model builders: one module per family, each a table of the paper plus one builder."""

from keras_classics.models.alexnet import AlexNet
from keras_classics.models.resnet import (
    ResNet,
    ResNet18,
    ResNet20,
    ResNet32,
    ResNet34,
    ResNet44,
    ResNet50,
    ResNet56,
    ResNet101,
    ResNet110,
    ResNet152,
    ResNet1202,
    ResNetCIFAR,
)
from keras_classics.models.vgg import (
    VGG,
    VGG11,
    VGG11_LRN,
    VGG13,
    VGG16,
    VGG16C,
    VGG19,
    to_dense_evaluation,
)

__all__ = [
    "VGG",
    "VGG11",
    "VGG11_LRN",
    "VGG13",
    "VGG16",
    "VGG16C",
    "VGG19",
    "AlexNet",
    "ResNet",
    "ResNet18",
    "ResNet20",
    "ResNet32",
    "ResNet34",
    "ResNet44",
    "ResNet50",
    "ResNet56",
    "ResNet101",
    "ResNet110",
    "ResNet152",
    "ResNet1202",
    "ResNetCIFAR",
    "to_dense_evaluation",
]
