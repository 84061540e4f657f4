"""`weights="imagenet"`: which public checkpoint each configuration loads, downloaded and converted.

`SOURCES` is the table: per configuration (a registry name and builder options), the published
file (URL and the hash its publisher gives: keras.applications' md5 from its source code,
torchvision's sha256 prefix from its file name), the converter, the input normalisation the
weights were trained with (a name of `keras_classics.normalization`) and the input size.

Choices: the authors' released models first (keras.applications: ResNet-50/101/152 v1, the
authors' Caffe ResNets, and VGG16/19, the authors' Caffe VGGs), torchvision for everything
keras.applications lacks: ResNet-18/34, the "v1.5" ResNets (`stride_in_1x1=False`),
VGG-11/13, every VGG with BN, and AlexNet "owt". torchvision's first (IMAGENET1K_V1) weights
are used, trained with the classic recipe.

Files: the download lands in `$KERAS_HOME/models/` (as keras.applications'), is verified
against the published hash, converted, and the converted weights are cached in
`$KERAS_HOME/models/keras_classics/` so later calls load them directly. KERAS_HOME is read
when the weights are loaded (default `~/.keras`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import keras

from keras_classics.normalization import Normalization, get_normalization
from keras_classics.registry import get_entry, list_models
from keras_classics.weights.convert import CONVERTERS
from keras_classics.weights.transfer import has_top

TORCHVISION_URL = "https://download.pytorch.org/models/"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
IMAGENET_CLASSES = 1000
# Builder arguments that do not change which weights fit (zero_init_residual only sets the
# initial gamma, which loading replaces).
NOT_STRUCTURAL = (
    "include_top",
    "weights",
    "input_tensor",
    "input_shape",
    "pooling",
    "classes",
    "classifier_activation",
    "name",
    "zero_init_residual",
)


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
class PretrainedSource:
    """The public ImageNet weights of one configuration and what its inputs must look like."""

    name: str  # "resnet50_v1.5"
    model: str  # the registry name: "resnet50"
    options: dict[str, Any]  # builder options beyond the registry entry's
    converter: str  # a key of CONVERTERS
    file: PublishedFile
    notop_file: PublishedFile | None  # a smaller file without the classifier, if published
    normalization: str  # a name of keras_classics.normalization.NORMALIZATIONS
    input_size: int
    top1: float  # published ImageNet validation accuracy, %, single 224 centre crop
    top5: float
    reference: str  # where the URL, hash and accuracy are published
    classes: int = field(default=IMAGENET_CLASSES)

    @property
    def preprocessing(self) -> Normalization:
        """The input normalisation these weights expect (RGB 0-255 in, model input out)."""
        return get_normalization(self.normalization)

    @property
    def description(self) -> str:
        """`get_model` arguments and source, e.g. "resnet50 with stride_in_1x1=False"."""
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{self.model}{f' with {options}' if options else ''} ({self.converter})"


def _torchvision(name: str, file_name: str, weights_enum: str, top1: float, top5: float, **options):
    # torch.hub's convention: the file name ends in -<first 8+ hex digits of its sha256>.
    digest = re.search(r"-([0-9a-f]{8,})\.", file_name)[1]
    return PretrainedSource(
        name=name,
        model=name.split("_v1.5")[0],
        options=options,
        converter="torchvision",
        file=PublishedFile(TORCHVISION_URL + file_name, digest, "sha256"),
        notop_file=None,
        normalization="torch",
        input_size=224,
        top1=top1,
        top5=top5,
        reference=f"torchvision.models.{weights_enum}.IMAGENET1K_V1",
    )


def _keras(name: str, stem: str, md5: str, notop_md5: str, application: str, top1, top5):
    return PretrainedSource(
        name=name,
        model=name,
        options={},
        converter="keras_applications",
        file=PublishedFile(f"{KERAS_URL}{stem}.h5", md5, "md5"),
        notop_file=PublishedFile(f"{KERAS_URL}{stem}_notop.h5", notop_md5, "md5"),
        normalization="caffe",
        input_size=224,
        top1=top1,
        top5=top5,
        reference=f"keras.applications.{application} (keras.io/api/applications)",
    )


_V1_5 = {"stride_in_1x1": False}
_RESNET_H5 = "resnet/{}_weights_tf_dim_ordering_tf_kernels"
_VGG_H5 = "{0}/{0}_weights_tf_dim_ordering_tf_kernels"
SOURCES: dict[str, PretrainedSource] = {
    source.name: source
    for source in (
        _torchvision("resnet18", "resnet18-f37072fd.pth", "ResNet18_Weights", 69.758, 89.078),
        _torchvision("resnet34", "resnet34-b627a593.pth", "ResNet34_Weights", 73.314, 91.420),
        _keras(
            "resnet50",
            _RESNET_H5.format("resnet50"),
            "2cb95161c43110f7111970584f804107",
            "4d473c1dd8becc155b73f8504c6f6626",
            "ResNet50",
            74.9,
            92.1,
        ),
        _torchvision(
            "resnet50_v1.5", "resnet50-0676ba61.pth", "ResNet50_Weights", 76.130, 92.862, **_V1_5
        ),
        _keras(
            "resnet101",
            _RESNET_H5.format("resnet101"),
            "f1aeb4b969a6efcfb50fad2f0c20cfc5",
            "88cf7a10940856eca736dc7b7e228a21",
            "ResNet101",
            76.4,
            92.8,
        ),
        _torchvision(
            "resnet101_v1.5", "resnet101-63fe2227.pth", "ResNet101_Weights", 77.374, 93.546, **_V1_5
        ),
        _keras(
            "resnet152",
            _RESNET_H5.format("resnet152"),
            "100835be76be38e30d865e96f2aaae62",
            "ee4c566cf9a93f14d82f913c2dc6dd0c",
            "ResNet152",
            76.6,
            93.1,
        ),
        _torchvision(
            "resnet152_v1.5", "resnet152-394f9c45.pth", "ResNet152_Weights", 78.312, 94.046, **_V1_5
        ),
        _torchvision("vgg11", "vgg11-8a719046.pth", "VGG11_Weights", 69.020, 88.628),
        _torchvision("vgg11_bn", "vgg11_bn-6002323d.pth", "VGG11_BN_Weights", 70.370, 89.810),
        _torchvision("vgg13", "vgg13-19584684.pth", "VGG13_Weights", 69.928, 89.246),
        _torchvision("vgg13_bn", "vgg13_bn-abd245e5.pth", "VGG13_BN_Weights", 71.586, 90.374),
        _keras(
            "vgg16",
            _VGG_H5.format("vgg16"),
            "64373286793e3c8b2b4e3219cbf3544b",
            "6d6bbae143d832006294945121d1f1fc",
            "VGG16",
            71.3,
            90.1,
        ),
        _torchvision("vgg16_bn", "vgg16_bn-6c64b313.pth", "VGG16_BN_Weights", 73.360, 91.516),
        _keras(
            "vgg19",
            _VGG_H5.format("vgg19"),
            "cbe5617147190e668d6c5d5026f83318",
            "253f8cb515780f3b799900260a226db6",
            "VGG19",
            71.3,
            90.0,
        ),
        _torchvision("vgg19_bn", "vgg19_bn-c79401a0.pth", "VGG19_BN_Weights", 74.218, 91.842),
        _torchvision("alexnet_owt", "alexnet-owt-7be5be79.pth", "AlexNet_Weights", 56.522, 79.066),
    )
}


def builder_config(model: str, **options: Any) -> dict[str, Any]:
    """All arguments the registered `model`'s builder gets with `options`, and its family.

    E.g. "vgg16_bn" -> {"family": "vgg", "config": "D", "batch_norm": True, ...}: the same
    structural arguments a builder passes when it resolves `weights="imagenet"`.
    """
    entry = get_entry(model)
    builder = entry.builder
    func, args = getattr(builder, "func", builder), getattr(builder, "args", ())
    keywords = {**getattr(builder, "keywords", {}), **entry.kwargs, **options}
    try:
        bound = inspect.signature(func).bind(*args, **keywords)
    except TypeError as error:
        raise ValueError(f"options {options} do not fit model {model!r}: {error}") from None
    bound.apply_defaults()
    return {"family": entry.family, **bound.arguments}


@functools.cache
def _source_config(name: str) -> dict[str, Any]:
    source = SOURCES[name]
    return builder_config(source.model, **source.options)


def _matches(source: PretrainedSource, config: dict[str, Any]) -> bool:
    own = _source_config(source.name)
    return "family" in config and all(
        k in own and own[k] == v for k, v in config.items() if k not in NOT_STRUCTURAL
    )


def available() -> str:
    """The configurations with public ImageNet weights, one per line."""
    return "\n".join(f"  {source.description}" for source in SOURCES.values())


def find_source(config: dict[str, Any], *, include_top: bool, classes: int) -> PretrainedSource:
    """The source of the builder configuration `config`; a clear ValueError if there is none.

    `config` holds the builder's structural arguments and its family (see `builder_config`).
    With `include_top=True` the classes must be ImageNet's 1000.
    """
    described = ", ".join(f"{k}={v!r}" for k, v in config.items() if k not in NOT_STRUCTURAL)
    source = next((s for s in SOURCES.values() if _matches(s, config)), None)
    if source is None:
        raise ValueError(
            f"weights='imagenet': no public ImageNet weights for {described}. Pretrained "
            f"weights exist for (get_model name, options, source):\n{available()}\n"
            "For VGG dense evaluation, convert a loaded model: "
            "to_dense_evaluation(VGG16(weights='imagenet'))."
        )
    if include_top and classes != source.classes:
        raise ValueError(
            f"weights='imagenet' with include_top=True needs classes={source.classes} (the "
            f"ImageNet classes); got classes={classes!r}. Use include_top=False for a new head."
        )
    return source


def pretrained_source(model: str | keras.Model, **options: Any) -> PretrainedSource:
    """The ImageNet source of a configuration: its normalisation, input size, file, accuracy.

    `model` is a registry name with builder `options` (`pretrained_source("resnet50",
    stride_in_1x1=False)`), a key of `SOURCES` ("resnet50_v1.5"), or a model built with
    `weights="imagenet"`. Example: `pretrained_source("vgg16").preprocessing.apply(images)`.
    """
    if isinstance(model, keras.Model):
        source = getattr(model, "pretrained_source", None)
        if source is None:
            raise ValueError(
                f"model {model.name!r} was not built with weights='imagenet'; ask by name, "
                "e.g. pretrained_source('resnet50', stride_in_1x1=False)"
            )
        return source
    if model in SOURCES and not options:
        return SOURCES[model]
    if model.lower() not in list_models():
        raise ValueError(
            f"unknown model {model!r}; choose a registered model or one of {list(SOURCES)}"
        )
    config = builder_config(model, **options)
    return find_source(config, include_top=config["include_top"], classes=config["classes"])


def keras_cache_dir() -> str:
    """$KERAS_HOME (read now, not at import as Keras does), else ~/.keras or /tmp/.keras."""
    root = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    with contextlib.suppress(OSError):  # not writable: as get_file, fall back to /tmp/.keras
        os.makedirs(root, exist_ok=True)
    return root if os.access(root, os.W_OK) else os.path.join("/tmp", ".keras")


def file_digest(path: str, algorithm: str) -> str:
    """The hex digest of the file at `path`."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(file: PublishedFile) -> str:
    """The verified local copy of `file`: downloaded once into $KERAS_HOME/models/.

    Offline, a ValueError names the URL and the path to place the file at. A file whose hash
    differs from the published one is deleted and rejected with a ValueError.
    """
    root = keras_cache_dir()
    path = os.path.join(root, "models", file.file_name)
    if not os.path.isfile(path):
        try:
            path = keras.utils.get_file(
                file.file_name, file.url, cache_subdir="models", cache_dir=root
            )
        except Exception as error:  # urllib's errors arrive wrapped in a bare Exception
            raise ValueError(
                f"cannot download {file.url} ({error}). Offline? Fetch that file elsewhere and "
                f"place it at {path}; it is verified against its published {file.algorithm} "
                f"{file.hash} and converted on the next call."
            ) from error
    digest = file_digest(path, file.algorithm)
    if not digest.startswith(file.hash):
        os.remove(path)
        raise ValueError(
            f"{path} is corrupt or not the published file: its {file.algorithm} is {digest}, "
            f"the publisher gives {file.hash}. It was deleted; the next call downloads "
            f"{file.url} again."
        )
    return path


def published_file(source: PretrainedSource, include_top: bool) -> PublishedFile:
    """The file to download: the whole one, or the one without classifier where published."""
    return source.file if include_top or source.notop_file is None else source.notop_file


def converted_path(source: PretrainedSource, include_top: bool) -> str:
    """Where the converted weights of `source` are cached: named by the published file's hash,
    so a changed source never loads a stale conversion."""
    digest = published_file(source, include_top).hash[:8]
    file_name = f"{source.name}-{digest}{'' if include_top else '_notop'}.weights.h5"
    return os.path.join(keras_cache_dir(), "models", "keras_classics", file_name)


def load_pretrained(model: keras.Model, source: PretrainedSource) -> keras.Model:
    """Loads `source`'s ImageNet weights into `model` (built for it); returns `model`.

    Uses the cached converted file when there is one; otherwise downloads (or finds) the
    published file, verifies its hash, converts it and caches the result. The model remembers
    its source: `pretrained_source(model)`.
    """
    include_top = has_top(model)
    cached = converted_path(source, include_top)
    loaded = False
    if os.path.isfile(cached):
        try:
            model.load_weights(cached)
            loaded = True
        except Exception:  # an interrupted or outdated cache file: convert again below
            loaded = False
    if not loaded:
        CONVERTERS[source.converter](download(published_file(source, include_top)), model)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        partial = cached.replace(".weights.h5", f".{os.getpid()}.partial.weights.h5")
        model.save_weights(partial)
        os.replace(partial, cached)  # atomic: other processes see a whole file or none
    model.pretrained_source = source
    return model
