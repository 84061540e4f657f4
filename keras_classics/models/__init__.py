"""Model builders: one module per family, each a table of the paper plus one builder."""

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

__all__ = [
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
]
