"""What every builder shares, written once: argument checks, the input, conv+BN, head, weights."""

from __future__ import annotations

import inspect
import os
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import layers

# BatchNormalization as the reference implementations configure it (torchvision, Caffe,
# fb.resnet.torch): epsilon 1e-5 and a running-average momentum of 0.9 (PyTorch's 0.1).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
POOLING_CHOICES = (None, "avg", "max")
WEIGHTS_SUFFIXES = (".weights.h5", ".keras")
CHECKPOINT_SUFFIXES = (".h5", ".pth", ".pt", ".npz", ".safetensors")  # see scripts/convert_weights
PRESET_NAME = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")  # "<registry model>.<tag>"


def named_variant(builder: Callable[..., Any], first: Any, name: str, doc: str) -> Callable:
    """The builder of one network of a family: `builder(first, ...)`, e.g. ResNet50 = ResNet(50).

    It takes `builder`'s other arguments, declared once there: `help()` and
    `inspect.signature` show them (keras.applications' order and defaults), positional or by
    keyword; an unknown argument is a TypeError naming it.
    """
    signature = inspect.signature(builder)
    own = signature.replace(parameters=list(signature.parameters.values())[1:])

    def variant(*args: Any, **kwargs: Any) -> keras.Model:
        bound = own.bind(*args, **kwargs)
        return builder(first, *bound.args, **bound.kwargs)

    variant.__signature__ = own
    variant.__name__ = variant.__qualname__ = name
    variant.__module__ = builder.__module__
    variant.__doc__ = f"{doc}\n\nArguments: as `{builder.__name__}` after its first."
    return variant


def check_choice(argument: str, value: Any, choices: Sequence[Any]) -> None:
    """Raises a ValueError naming `argument` and its valid `choices` unless value is one."""
    if value not in choices:
        raise ValueError(f"{argument}={value!r} is not valid; choose one of {list(choices)}")


def channel_axis() -> int:
    """The channel axis of the global image data format."""
    return 1 if keras.config.image_data_format() == "channels_first" else -1


def check_builder_args(
    *,
    include_top: bool,
    weights: str | os.PathLike | None,
    pooling: str | None,
    classes: int,
    model: str,
    structure: dict[str, Any],
) -> Any:
    """Validates the `keras.applications` arguments every builder takes; returns the weights.

    `weights` is None, a `.weights.h5` / `.keras` file, "imagenet" (the default preset of the
    registry model `model`) or a preset name ("resnet50.tv_in1k"). A preset is resolved here,
    checked against the builder's `structure` (its structural options, named by the builder),
    so a configuration that does not fit fails before the model is built. The result goes to
    `load_weights`.
    """
    check_choice("pooling", pooling, POOLING_CHOICES)
    if include_top and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
        raise ValueError(f"classes must be a positive int with include_top=True; got {classes!r}")
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"weights must be None, 'imagenet', a preset name or a file path; got {weights!r}"
        )
    path = os.fspath(weights)
    if path.endswith(WEIGHTS_SUFFIXES):
        if not os.path.isfile(path):
            raise ValueError(f"weights file {path!r} does not exist")
        return weights
    if path.endswith(CHECKPOINT_SUFFIXES):
        raise ValueError(
            f"weights={path!r} is a checkpoint to convert, not a Keras weights file (one of "
            f"{list(WEIGHTS_SUFFIXES)}): scripts/convert_weights.py turns it into one"
        )
    if path == "imagenet" or PRESET_NAME.fullmatch(path):
        from keras_classics.weights.presets import resolve_preset

        return resolve_preset(
            path, model=model, structure=structure, include_top=include_top, classes=classes
        )
    raise ValueError(
        f"weights={path!r} is neither 'imagenet', a preset name (keras_classics."
        f"list_presets()) nor a file ending with one of {list(WEIGHTS_SUFFIXES)}"
    )


def image_shape(height: int | None, width: int | None, channels: int) -> tuple[int | None, ...]:
    """An image's shape without the batch axis, in the global data format."""
    return (channels, height, width) if channel_axis() == 1 else (height, width, channels)


def model_input(
    input_tensor: Any,
    input_shape: Sequence[int | None] | None,
    *,
    default_size: int | None,
    min_size: int,
    model_name: str,
) -> tuple[Any, Any]:
    """Returns (model inputs, image tensor) from `input_tensor` / `input_shape`.

    Without either, the input is `default_size` square (None: any size, as keras.applications
    gives a model built with `include_top=False`) with 3 channels in the global data format.
    Spatial sizes may be None (any size) but, when given, must be at least `min_size` (the
    smallest input the network takes, e.g. its total stride).
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        spatial: tuple[int | None, ...] = (default_size, default_size)
        channels: int | None = 3
    else:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"input_shape must have 3 entries (height, width, channels, or channels first "
                f"with channels_first); got {input_shape}"
            )
        if keras.config.image_data_format() == "channels_first":
            channels, spatial = input_shape[0], input_shape[1:]
        else:
            channels, spatial = input_shape[2], input_shape[:2]
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"input_shape {input_shape} needs a positive number of channels in the "
            f"{keras.config.image_data_format()} position"
        )
    for size in spatial:
        if size is not None and size < min_size:
            raise ValueError(
                f"input_shape {input_shape} is too small for {model_name}: height and width "
                f"must be at least {min_size} pixels, or None"
            )
    return keras_input(input_tensor, image_shape(*spatial, channels))


def keras_input(input_tensor: Any, shape: tuple[int | None, ...]) -> tuple[Any, Any]:
    """(model inputs, input) of a builder, as keras.applications makes them: a new `Input` of
    `shape`, one wrapping `input_tensor`, or `input_tensor` itself (a Keras tensor) and the
    inputs it comes from. Images (`model_input`) and 1D signals (`mnist1d.signal_input`)."""
    if input_tensor is None:
        tensor = keras.Input(shape=shape)
        return tensor, tensor
    if not keras.backend.is_keras_tensor(input_tensor):
        tensor = keras.Input(tensor=input_tensor, shape=shape)
        return tensor, tensor
    return keras.utils.get_source_inputs(input_tensor), input_tensor


def allow_graph_depth(layers_in_graph: int) -> None:
    """Raises Python's recursion limit so Keras can walk a graph of `layers_in_graph` layers.

    Keras builds, saves and reloads functional graphs recursively (a few frames per layer), so
    very deep nets such as CIFAR ResNet-1202 (about 3,600 layers) need more than Python's
    default 1,000 frames. The limit is only ever raised, because reloading the model later walks
    the same graph again.
    """
    needed = 1000 + 5 * layers_in_graph
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


def he_normal_fan_out() -> keras.initializers.Initializer:
    """He et al. 2015 ("Delving deep") normal initialisation, std sqrt(2 / fan_out).

    The fan-out form is what fb.resnet.torch and torchvision use for ResNet convolutions.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def conv_bn(
    x: Any,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    *,
    name: str,
    zero_gamma: bool = False,
    rank: int = 2,
) -> Any:
    """Bias-free convolution + BatchNormalization, padded symmetrically as Caffe and torchvision.

    Stride 1 uses "same" padding (symmetric for odd kernels). A strided convolution is preceded
    by an explicit `ZeroPadding2D((k - 1) // 2)` (`{name}_pad`) and uses "valid" padding, because
    Keras's "same" pads strided layers asymmetrically (more at the bottom/right).
    Layers: `{name}_pad` (strided, k > 1), `{name}_conv`, `{name}_bn`. `rank=1` builds the same
    on signals `[batch, length, channels]` (channels last whatever the global data format):
    `ZeroPadding1D`, `Conv1D`.
    """
    signals = rank == 1
    data_format = "channels_last" if signals else None  # None: the global image format
    padding = "same"
    if strides > 1:
        padding = "valid"
        if kernel_size > 1:
            pad = layers.ZeroPadding1D if signals else layers.ZeroPadding2D
            x = pad((kernel_size - 1) // 2, data_format=data_format, name=f"{name}_pad")(x)
    x = (layers.Conv1D if signals else layers.Conv2D)(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        use_bias=False,
        kernel_initializer=he_normal_fan_out(),
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(
        axis=-1 if signals else channel_axis(),
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=f"{name}_bn",
    )(x)


def check_head_input(x: Any, expected: int, *, model_name: str, hint: str) -> None:
    """Fully connected heads need an `expected` x `expected` feature map before Flatten.

    Raises a ValueError naming the feature map the input gives and what to do (`hint`).
    """
    spatial = tuple(x.shape[2:] if channel_axis() == 1 else x.shape[1:-1])
    if spatial != (expected, expected):
        raise ValueError(
            f"{model_name} with include_top=True needs a {expected}x{expected} feature map "
            f"before its fully connected head, but this input gives "
            f"{'x'.join(str(d) for d in spatial)}; {hint}"
        )


def global_pool(x: Any, pooling: str | None) -> Any:
    """`pooling` "avg" -> `avg_pool`, "max" -> `max_pool`, None -> x unchanged.

    The pooled features are computed and returned in float32 under any dtype policy (as the
    classifier's output); an unpooled feature map stays in the policy's compute dtype, so that
    layers stacked on it keep running in mixed precision.
    """
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool", dtype="float32")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool", dtype="float32")(x)
    return x


# The classifier's stable layer names (docs: "Layer names"); converters, fine-tuning and the
# keras-hub wrapper find the head by them.
HEAD_LAYER = "predictions"
HEAD_ACTIVATION_LAYER = "predictions_activation"


def classifier(x: Any, classes: int, activation: str | None, **dense_options: Any) -> Any:
    """The last fully connected layer `predictions` and its activation in float32.

    The activation is its own layer, `predictions_activation`, with dtype float32, so that under
    a mixed-precision policy the softmax (or logits) come out in float32. `dense_options` go to
    the Dense layer (initializers).
    """
    x = layers.Dense(classes, name=HEAD_LAYER, **dense_options)(x)
    return output_activation(x, activation)


def output_activation(x: Any, activation: Any) -> Any:
    """`predictions_activation`: the classifier's activation, computed in float32."""
    return layers.Activation(activation, dtype="float32", name=HEAD_ACTIVATION_LAYER)(x)


def load_weights(model: keras.Model, weights: Any) -> keras.Model:
    """Loads a `.weights.h5` or `.keras` file into `model`; a mismatch names file and model.

    `weights` may also be the preset `check_builder_args` resolved; the model then comes back
    with the preset's preprocessing record attached.
    """
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        from keras_classics.weights.pretrained import load_pretrained

        return load_pretrained(model, weights)
    if weights is not None:
        try:
            model.load_weights(os.fspath(weights))
        except ValueError as error:
            raise ValueError(
                f"weights file {os.fspath(weights)!r} does not match model {model.name!r} "
                f"(check depth, options and classes): {error}"
            ) from error
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"weights file {os.fspath(weights)!r} cannot be read as a Keras weights file "
                f"(corrupt or not HDF5/zip): {error}"
            ) from error
    return model
