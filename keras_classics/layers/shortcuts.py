"""The parameter-free identity shortcut of ResNet option A (He et al. 2015, section 3.3)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_classics.layers.data_format import resolve_data_format

CHANNEL_POSITIONS = ("after", "both")


@keras.saving.register_keras_serializable(package="keras_classics")
class ZeroPaddingShortcut(keras.layers.Layer):
    """Identity shortcut that subsamples by the stride and pads new channels with zeros.

    Paper, section 3.3, option (A): "the shortcut still performs identity mapping, with extra
    zero entries padded for increasing dimensions ... when the shortcuts go across feature maps
    of two sizes, they are performed with a stride of 2." The layer has no parameters.

    Subsampling keeps the top-left pixel of every `strides` x `strides` window
    (`x[:, ::s, ::s, :]`), so an input of size H gives ceil(H / s), the same size as the
    padded 3x3 or 1x1 stride-s convolution of the residual branch.

    Where the zeros go (`channel_position`):
    - `"after"` (default): the input channels keep their indices 0..C_in-1 and the zeros take
      C_in..C_out-1, as fb.resnet.torch's shortcut type A concatenates identity and zeros.
    - `"both"`: the zeros are split before and after the input channels ((C_out - C_in) // 2
      before, the rest after), as the widely used PyTorch CIFAR ResNets pad them; choose it to
      load weights trained that way.

    Args:
        filters: number of output channels, at least the number of input channels.
        strides: spatial subsampling factor (int or pair of ints).
        channel_position: `"after"` or `"both"`.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
    """

    def __init__(
        self,
        filters: int,
        strides: int | tuple[int, int] = 1,
        channel_position: str = "after",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"filters must be a positive int; got {filters!r}")
        strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
        if len(strides) != 2 or any(not isinstance(s, int) or s < 1 for s in strides):
            raise ValueError(f"strides must be a positive int or a pair of them; got {strides!r}")
        if channel_position not in CHANNEL_POSITIONS:
            raise ValueError(
                f"channel_position={channel_position!r} is not valid; "
                f"choose one of {CHANNEL_POSITIONS}"
            )
        self.filters = filters
        self.strides = strides
        self.channel_position = channel_position
        self.data_format, self._channel_axis = resolve_data_format(data_format)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 4:
            raise ValueError(f"ZeroPaddingShortcut takes 4D inputs; got shape {input_shape}")
        in_channels = input_shape[self._channel_axis]
        if in_channels is None:
            raise ValueError("ZeroPaddingShortcut needs a known number of input channels")
        if in_channels > self.filters:
            raise ValueError(
                f"ZeroPaddingShortcut pads channels, it cannot drop them: {in_channels} input "
                f"channels > filters={self.filters}"
            )
        extra = self.filters - in_channels
        before = extra // 2 if self.channel_position == "both" else 0
        self._channel_padding = (before, extra - before)

    def call(self, inputs: Any) -> Any:
        sh, sw = self.strides
        if self.data_format == "channels_last":
            x = inputs[:, ::sh, ::sw, :] if (sh, sw) != (1, 1) else inputs
            padding = [(0, 0), (0, 0), (0, 0), self._channel_padding]
        else:
            x = inputs[:, :, ::sh, ::sw] if (sh, sw) != (1, 1) else inputs
            padding = [(0, 0), self._channel_padding, (0, 0), (0, 0)]
        if self._channel_padding == (0, 0):
            return x
        return ops.pad(x, padding)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        shape = list(input_shape)
        spatial = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis, stride in zip(spatial, self.strides, strict=True):
            if shape[axis] is not None:
                shape[axis] = -(-shape[axis] // stride)  # ceil division
        shape[self._channel_axis] = self.filters
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "channel_position": self.channel_position,
            "data_format": self.data_format,
        }
