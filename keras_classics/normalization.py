"""Input normalisation constants, in one place for data, training, export and weights.

Pure Python numbers and arithmetic operators only, so `Normalization.apply` works on NumPy
arrays, TensorFlow tensors (in tf.data and serving graphs) and any Keras backend's tensors, and
importing this module imports no TensorFlow.

Every normalisation maps RGB pixels on the 0-255 scale, channels last, to the model's input:
`(x[..., order] - mean) / std`, with `mean` and `std` on the 0-255 scale in the model's
channel order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ImageNet RGB statistics of torchvision (x / 255 - mean) / std.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
# ImageNet per-channel means of the Caffe models (BGR, 0-255), used by keras.applications
# `mode="caffe"` for VGG16/19 and ResNet50/101/152 v1.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# CIFAR-10 training-set per-channel statistics (RGB, on the 0-1 scale).
CIFAR10_MEAN_RGB = (0.4914, 0.4822, 0.4465)
CIFAR10_STD_RGB = (0.2470, 0.2435, 0.2616)
# AlexNet section 4.1 "fancy PCA" lighting noise: eigenvalues and eigenvectors (columns) of the
# ImageNet RGB pixel covariance on the 0-1 scale, as published with fb.resnet.torch (the paper
# gives no numbers). Rows are R, G, B.
IMAGENET_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
# AlexNet's PCA noise: alpha ~ N(0, 0.1) per eigenvector, per image, per use.
PCA_ALPHA_STD = 0.1


def _scaled(values: tuple[float, ...], scale: float) -> tuple[float, ...]:
    return tuple(round(v * scale, 6) for v in values)


@dataclass(frozen=True)
class Normalization:
    """RGB 0-255 pixels -> model input: `(x[..., ::-1] if bgr else x) - mean) / std`.

    `mean` and `std` are on the 0-255 scale, in the model's channel order (BGR when `bgr`).
    """

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bgr: bool = False
    description: str = ""

    def apply(self, images: Any) -> Any:
        """Normalises float RGB images (0-255, channels last): NumPy, TF or Keras tensors."""
        if self.bgr:
            images = images[..., ::-1]
        images = images - self.mean
        if self.std != (1.0, 1.0, 1.0):
            images = images / self.std
        return images

    def invert(self, inputs: Any) -> Any:
        """Model inputs back to RGB 0-255 pixels (for looking at augmented images)."""
        if self.std != (1.0, 1.0, 1.0):
            inputs = inputs * self.std
        inputs = inputs + self.mean
        return inputs[..., ::-1] if self.bgr else inputs


NORMALIZATIONS: dict[str, Normalization] = {
    n.name: n
    for n in (
        Normalization(
            "torch",
            _scaled(IMAGENET_MEAN_RGB, 255),
            _scaled(IMAGENET_STD_RGB, 255),
            description="torchvision: x / 255, minus ImageNet RGB mean, over its std",
        ),
        Normalization(
            "caffe",
            CAFFE_MEAN_BGR,
            bgr=True,
            description="Caffe / keras.applications mode='caffe': RGB -> BGR, minus ImageNet "
            "BGR means, 0-255 scale",
        ),
        Normalization(
            "mean",
            CAFFE_MEAN_BGR[::-1],
            description="the papers' mean subtraction, per channel: minus ImageNet RGB means, "
            "0-255 scale (AlexNet 2, ResNet 3.4)",
        ),
        Normalization(
            "cifar10",
            _scaled(CIFAR10_MEAN_RGB, 255),
            _scaled(CIFAR10_STD_RGB, 255),
            description="per-channel standardisation with CIFAR-10 training statistics",
        ),
        Normalization("unit", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0), description="x / 255"),
        Normalization("none", (0.0, 0.0, 0.0), description="raw 0-255 RGB"),
    )
}


def get_normalization(name: str | Normalization) -> Normalization:
    """The normalisation called `name`; a clear error lists the valid names."""
    if isinstance(name, Normalization):
        return name
    try:
        return NORMALIZATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown normalization {name!r}; choose one of {list(NORMALIZATIONS)}"
        ) from None
