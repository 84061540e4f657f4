"""Local Response Normalization (Krizhevsky, Sutskever, Hinton 2012, section 3.3)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_classics.layers.data_format import resolve_data_format


def inverse_power(base: Any, beta: float) -> Any:
    """base ** -beta; the common exponents use rsqrt and sqrt, several times faster than pow."""
    if beta == 0.75:
        root = ops.rsqrt(base)
        return root * ops.sqrt(root)
    if beta == 0.5:
        return ops.rsqrt(base)
    if beta == 1.0:
        return 1.0 / base
    return ops.power(base, -beta)


@keras.saving.register_keras_serializable(package="keras_classics")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalises each activation by the energy of its neighbouring channels, as AlexNet does.

    Paper, section 3.3: b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2)^beta
    with k = 2, n = 5, alpha = 1e-4, beta = 0.75. Here n = 2 * depth_radius + 1 and `bias` is k.
    The window is clipped at the first and last channels (no wrap-around).

    alpha is NOT divided by n, exactly as in the paper and in
    `tf.nn.local_response_normalization(depth_radius, bias, alpha, beta)`. Caffe and PyTorch
    divide alpha by n:
    - PyTorch `nn.LocalResponseNorm(size=n, alpha=a, beta=b, k=k)` equals
      `LocalResponseNormalization(depth_radius=(n - 1) // 2, bias=k, alpha=a / n, beta=b)`
      (so the paper's layer is PyTorch's with alpha=5e-4);
    - Caffe's `LRN` (ACROSS_CHANNELS, local_size n, alpha a, k) equals `alpha=a / n` likewise;
      bvlc_alexnet's (n=5, alpha=1e-4, k=1) is `depth_radius=2, bias=1.0, alpha=2e-5`, which is
      not the paper's layer.

    The squares and their sums are computed in float32 whatever the input dtype, so float16
    and bfloat16 activations in the thousands (whose squares overflow float16 above 256) stay
    finite; the output has the input's dtype. The window sums are one matmul with a 0/1 band
    matrix: on GPUs where TensorFloat-32 matmuls are on (TensorFlow's and JAX's default on
    Ampere and later), they are rounded like the network's convolutions are.

    Args:
        depth_radius: half-width of the channel window (n = 2 * depth_radius + 1).
        bias: k, the additive constant.
        alpha: the scale of the sum of squares (not divided by n).
        beta: the exponent.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 2.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(f"depth_radius must be an int >= 0; got {depth_radius!r}")
        if bias <= 0 or alpha < 0:
            raise ValueError(
                f"bias must be > 0 and alpha >= 0 (got bias={bias!r}, alpha={alpha!r}): the "
                "denominator k + alpha * sum(a^2) must stay positive, also where all a are 0"
            )
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.data_format, self._axis = resolve_data_format(data_format)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[self._axis]
        if channels is None:
            raise ValueError("LocalResponseNormalization needs a known number of channels")
        # window[..., i] = sum of squares[..., j] for |i - j| <= depth_radius, clipped at the
        # edges, as one matmul with a 0/1 band matrix (faster than 2r + 1 shifted slices, whose
        # gradients are slow in TensorFlow).
        index = np.arange(channels)
        self._band = (np.abs(index[:, None] - index[None, :]) <= self.depth_radius).astype(
            "float32"
        )

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        squares = ops.square(x)
        if self._axis == 1:
            window = ops.moveaxis(ops.matmul(ops.moveaxis(squares, 1, -1), self._band), -1, 1)
        else:
            window = ops.matmul(squares, self._band)
        scale = inverse_power(self.bias + self.alpha * window, self.beta)
        return ops.cast(x * scale, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
            "data_format": self.data_format,
        }
