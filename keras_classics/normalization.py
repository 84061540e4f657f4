"""Input normalisation constants, in one place for data, training, export and weights.

Pure Python numbers and arithmetic operators only, so `Normalization.apply` works on NumPy
arrays, TensorFlow tensors (in tf.data and serving graphs) and any Keras backend's tensors, and
importing this module imports no TensorFlow.

Every normalisation maps RGB pixels on the 0-255 scale, channels last, to the model's input:
`(x[..., order] - mean) / std`, with `mean` and `std` on the 0-255 scale in the model's
channel order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


# How images are resized before the centre crop; `tf.image.resize` / PIL method names.
INTERPOLATIONS = ("bilinear", "bicubic")


@dataclass(frozen=True)
class PreprocessingRecord:
    """Every preprocessing fact a set of weights (or a training run) fixes, in one record.

    Producers: the presets (`keras_classics.weights.presets`) and training runs (the recipe's
    evaluation view). Consumers: evaluation (`keras_classics.data.evaluation`), export,
    prediction and `preprocess_input`. It travels with the model (`keras_classics.models.record`)
    and is plain JSON (`to_dict` / `from_dict`).

    Evaluation view: resize the shorter side to `resize_size` with `interpolation`
    (antialiased), crop the centre `image_size` square, normalise with `normalization`.
    `class_names` is None for a model without its classifier; `source` says where the record
    comes from (a preset name, a run directory).
    """

    normalization: str
    image_size: int
    resize_size: int
    interpolation: str = "bilinear"
    class_names: tuple[str, ...] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        get_normalization(self.normalization)
        for field_name in ("image_size", "resize_size"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field_name} must be a positive int; got {value!r}")
        if self.resize_size < self.image_size:
            raise ValueError(
                f"resize_size {self.resize_size} must be at least image_size {self.image_size}"
            )
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation={self.interpolation!r} is not valid; choose one of "
                f"{list(INTERPOLATIONS)}"
            )
        if self.class_names is not None:
            names = tuple(self.class_names)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise ValueError("class_names must be None or non-empty strings")
            object.__setattr__(self, "class_names", names)

    @property
    def normalizer(self) -> Normalization:
        """The `Normalization` this record names."""
        return get_normalization(self.normalization)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, strings, ints)."""
        return {
            "normalization": self.normalization,
            "image_size": self.image_size,
            "resize_size": self.resize_size,
            "interpolation": self.interpolation,
            "class_names": None if self.class_names is None else list(self.class_names),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PreprocessingRecord:
        """The record `to_dict` wrote; unknown or missing keys are a clear error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"preprocessing record has unknown keys {unknown}; known: {known}")
        names = values.get("class_names")
        return cls(**{**values, "class_names": None if names is None else tuple(names)})

    @classmethod
    def from_eval_view(
        cls,
        *,
        normalization: str | Normalization,
        image_size: int,
        resize_size: int,
        class_names: Any = None,
        source: str = "",
    ) -> PreprocessingRecord:
        """The record of a training run: its evaluation view and its dataset's class names."""
        return cls(
            normalization=get_normalization(normalization).name,
            image_size=image_size,
            resize_size=resize_size,
            class_names=None if class_names is None else tuple(class_names),
            source=source,
        )

    def without_classes(self) -> PreprocessingRecord:
        """The record of the same weights without their classifier (`include_top=False`)."""
        return replace(self, class_names=None)
