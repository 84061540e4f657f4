"""Named presets, timm-style `<model>.<tag>`: a set of public weights and everything that fits it.

A preset names its registry model and the builder options its weights need, the published
file (URL and the hash its publisher gives: keras.applications' md5 from its source code,
torchvision's sha256 prefix from its file name), the converter, the licence, the publisher's
ImageNet accuracy and the preprocessing record (`PreprocessingRecord`) the weights were trained
with. Tags: `tv_in1k` = torchvision's first ImageNet-1k weights (IMAGENET1K_V1, the classic
recipe); `keras_in1k` = keras.applications' weights (the authors' Caffe models, BGR).

`weights="imagenet"` loads the model's default preset (`default_preset`): the authors' released
weights where keras.applications has them (ResNet-50/101/152 v1, VGG16/19), torchvision's
otherwise. docs/weights.md has the table.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keras_classics.normalization import PreprocessingRecord
from keras_classics.weights.classes import imagenet_class_names

TORCHVISION_URL = "https://download.pytorch.org/models/"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
IMAGENET_CLASSES = 1000
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"
KERAS_RESNET_LICENCE = "MIT (KaimingHe/deep-residual-networks, via keras.applications)"
KERAS_VGG_LICENCE = "CC BY 4.0 (Oxford VGG, via keras.applications)"


@dataclass(frozen=True)
class PublishedFile:
    """A checkpoint file and the hash its publisher gives (a prefix of it for torchvision)."""

    url: str
    hash: str
    algorithm: str  # "md5" or "sha256"

    @property
    def file_name(self) -> str:
        return os.path.basename(urllib.parse.urlsplit(self.url).path)


@dataclass(frozen=True)
class Preset:
    """One named set of ImageNet weights and what its model and inputs must be."""

    name: str  # "resnet50.tv_in1k"
    options: Mapping[str, Any]  # builder options the weights need, beyond the registry entry's
    converter: str  # a key of keras_classics.weights.convert.CONVERTERS
    file: PublishedFile
    notop_file: PublishedFile | None  # a smaller file without the classifier, if published
    record: PreprocessingRecord
    top1: float  # published ImageNet validation accuracy, %, single centre crop
    top5: float
    licence: str
    reference: str  # where the URL, hash and accuracy are published
    default: bool  # what weights="imagenet" loads for this model

    @property
    def model(self) -> str:
        """The registry name: "resnet50" for "resnet50.tv_in1k"."""
        return self.name.split(".")[0]

    @property
    def classes(self) -> int:
        return len(self.record.class_names)


def _record(normalization: str, name: str) -> PreprocessingRecord:
    # Both publishers evaluate on the centre 224 crop of the image resized to 256.
    return PreprocessingRecord(
        normalization, 224, 256, "bilinear", imagenet_class_names(), source=name
    )


def _torchvision(
    name: str, file_name: str, enum: str, top1: float, top5: float, default=True, **options
):
    # torch.hub's convention: the file name ends in -<first 8+ hex digits of its sha256>.
    digest = re.search(r"-([0-9a-f]{8,})\.", file_name)[1]
    return Preset(
        name=name,
        options=options,
        converter="torchvision",
        file=PublishedFile(TORCHVISION_URL + file_name, digest, "sha256"),
        notop_file=None,
        record=_record("torch", name),
        top1=top1,
        top5=top5,
        licence=TORCHVISION_LICENCE,
        reference=f"torchvision.models.{enum}.IMAGENET1K_V1",
        default=default,
    )


def _keras(name: str, stem: str, md5: str, notop_md5: str, application: str, top1, top5, **opts):
    return Preset(
        name=name,
        options=opts,
        converter="keras_applications",
        file=PublishedFile(f"{KERAS_URL}{stem}.h5", md5, "md5"),
        notop_file=PublishedFile(f"{KERAS_URL}{stem}_notop.h5", notop_md5, "md5"),
        record=_record("caffe", name),
        top1=top1,
        top5=top5,
        licence=KERAS_VGG_LICENCE if application.startswith("VGG") else KERAS_RESNET_LICENCE,
        reference=f"keras.applications.{application} (keras.io/api/applications)",
        default=True,
    )


# torchvision's ResNet-50/101/152 are "v1.5" (stride on the 3x3); keras.applications' are v1.
_TV_RESNET = {"shortcut": "B", "stride_in_1x1": False, "default": False}
_KERAS_RESNET = {"shortcut": "B", "stride_in_1x1": True}
_RESNET_H5 = "resnet/{}_weights_tf_dim_ordering_tf_kernels"
_VGG_H5 = "{0}/{0}_weights_tf_dim_ordering_tf_kernels"
_VGG = {"dense_evaluation": False}
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        _torchvision("resnet18.tv_in1k", "resnet18-f37072fd.pth", "ResNet18_Weights", 69.758,
                     89.078, shortcut="B"),
        _torchvision("resnet34.tv_in1k", "resnet34-b627a593.pth", "ResNet34_Weights", 73.314,
                     91.420, shortcut="B"),
        _keras("resnet50.keras_in1k", _RESNET_H5.format("resnet50"),
               "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626",
               "ResNet50", 74.9, 92.1, **_KERAS_RESNET),
        _torchvision("resnet50.tv_in1k", "resnet50-0676ba61.pth", "ResNet50_Weights", 76.130,
                     92.862, **_TV_RESNET),
        _keras("resnet101.keras_in1k", _RESNET_H5.format("resnet101"),
               "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21",
               "ResNet101", 76.4, 92.8, **_KERAS_RESNET),
        _torchvision("resnet101.tv_in1k", "resnet101-63fe2227.pth", "ResNet101_Weights", 77.374,
                     93.546, **_TV_RESNET),
        _keras("resnet152.keras_in1k", _RESNET_H5.format("resnet152"),
               "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c",
               "ResNet152", 76.6, 93.1, **_KERAS_RESNET),
        _torchvision("resnet152.tv_in1k", "resnet152-394f9c45.pth", "ResNet152_Weights", 78.312,
                     94.046, **_TV_RESNET),
        _torchvision("vgg11.tv_in1k", "vgg11-8a719046.pth", "VGG11_Weights", 69.020, 88.628,
                     **_VGG),
        _torchvision("vgg11_bn.tv_in1k", "vgg11_bn-6002323d.pth", "VGG11_BN_Weights", 70.370,
                     89.810, **_VGG),
        _torchvision("vgg13.tv_in1k", "vgg13-19584684.pth", "VGG13_Weights", 69.928, 89.246,
                     **_VGG),
        _torchvision("vgg13_bn.tv_in1k", "vgg13_bn-abd245e5.pth", "VGG13_BN_Weights", 71.586,
                     90.374, **_VGG),
        _keras("vgg16.keras_in1k", _VGG_H5.format("vgg16"), "64373286793e3c8b2b4e3219cbf3544b",
               "6d6bbae143d832006294945121d1f1fc", "VGG16", 71.3, 90.1, **_VGG),
        _torchvision("vgg16.tv_in1k", "vgg16-397923af.pth", "VGG16_Weights", 71.592, 90.382,
                     default=False, **_VGG),
        _torchvision("vgg16_bn.tv_in1k", "vgg16_bn-6c64b313.pth", "VGG16_BN_Weights", 73.360,
                     91.516, **_VGG),
        _keras("vgg19.keras_in1k", _VGG_H5.format("vgg19"), "cbe5617147190e668d6c5d5026f83318",
               "253f8cb515780f3b799900260a226db6", "VGG19", 71.3, 90.0, **_VGG),
        _torchvision("vgg19.tv_in1k", "vgg19-dcbb9e9d.pth", "VGG19_Weights", 72.376, 90.876,
                     default=False, **_VGG),
        _torchvision("vgg19_bn.tv_in1k", "vgg19_bn-c79401a0.pth", "VGG19_BN_Weights", 74.218,
                     91.842, **_VGG),
        _torchvision("alexnet_owt.tv_in1k", "alexnet-owt-7be5be79.pth", "AlexNet_Weights",
                     56.522, 79.066),
    )
}  # fmt: skip


def list_presets(model: str | None = None) -> list[str]:
    """Names of the presets, optionally of one registry model ("resnet50")."""
    return [name for name, preset in PRESETS.items() if model in (None, preset.model)]


def get_preset(name: str) -> Preset:
    """The preset `name` (case-insensitive); a clear error lists the valid names."""
    preset = PRESETS.get(name.lower()) if isinstance(name, str) else None
    if preset is None:
        raise ValueError(f"unknown preset {name!r}; choose one of {list_presets()}")
    return preset


def default_preset(model: str) -> Preset:
    """What `weights="imagenet"` loads for the registry model `model`."""
    for preset in PRESETS.values():
        if preset.model == model and preset.default:
            return preset
    raise ValueError(
        f"weights='imagenet': {model!r} has no public ImageNet weights; the presets are "
        f"{list_presets()}. For VGG dense evaluation, convert a loaded model: "
        "to_dense_evaluation(VGG16(weights='imagenet'))."
    )


def resolve_preset(
    weights: str, *, model: str, structure: Mapping[str, Any], include_top: bool, classes: int
) -> Preset:
    """The preset a builder of registry model `model` loads for `weights` ("imagenet" or a
    preset name), checked against the builder's `structure` (its structural options) before
    anything is downloaded; a ValueError names what does not fit and what would."""
    preset = default_preset(model) if weights == "imagenet" else get_preset(weights)
    if preset.model != model:
        raise ValueError(
            f"preset {preset.name!r} is for model {preset.model!r}, not {model!r}; presets of "
            f"{model!r}: {list_presets(model) or 'none'}"
        )
    wrong = {k: v for k, v in preset.options.items() if structure.get(k, v) != v}
    if wrong:
        given = ", ".join(f"{k}={structure[k]!r}" for k in wrong)
        needed = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        others = [n for n in list_presets(model) if n != preset.name]
        raise ValueError(
            f"preset {preset.name!r} needs {needed}, but the model is built with {given}. "
            f"Build it with get_model({preset.name!r}), or choose another preset of "
            f"{model!r}: {others or 'none'}"
        )
    if include_top and classes != preset.classes:
        raise ValueError(
            f"weights={weights!r} with include_top=True needs classes={preset.classes} (the "
            f"ImageNet classes); got classes={classes!r}. Use include_top=False for a new head."
        )
    return preset
