"""Learning-rate schedules: constant, step, plateau and cosine, each with an optional warm-up.

Every schedule is a `keras.optimizers.schedules.LearningRateSchedule` of the optimizer's step
(so it runs inside the compiled training step), and keeps its mutable state (the plateau
schedule's reductions) in TensorFlow variables that the training checkpoint saves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import tensorflow as tf

SCHEDULES = ("constant", "step", "plateau", "cosine")
WARMUPS = ("linear", "constant")


class Schedule(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate`, shaped by `decay`, after a warm-up of `warmup_steps`.

    Warm-up `"linear"` ramps from `learning_rate / warmup_steps` to `learning_rate` (Goyal et
    al. 2017, "Accurate, Large Minibatch SGD", section 2.2, gradual warm-up); `"constant"` trains
    at `warmup_factor * learning_rate` first (ResNet paper 4.2: ResNet-110 at 0.01 for about 400
    iterations, then 0.1).
    """

    def __init__(
        self,
        learning_rate: float,
        *,
        warmup_steps: int = 0,
        warmup: str = "linear",
        warmup_factor: float = 0.1,
    ) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive; got {learning_rate}")
        if warmup not in WARMUPS:
            raise ValueError(f"unknown warm-up {warmup!r}; choose one of {list(WARMUPS)}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0; got {warmup_steps}")
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.warmup = warmup
        self.warmup_factor = float(warmup_factor)

    def decay(self, step: tf.Tensor) -> tf.Tensor:
        """The multiplier of `learning_rate` at `step` (float32), warm-up aside."""
        return tf.ones_like(step)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        rate = self.learning_rate * self.decay(step)
        if self.warmup_steps:
            if self.warmup == "linear":
                ramp = tf.minimum(1.0, (step + 1.0) / self.warmup_steps)
            else:
                ramp = tf.where(step < self.warmup_steps, self.warmup_factor, 1.0)
            rate = rate * ramp
        return rate

    @property
    def state(self) -> dict[str, tf.Variable]:
        """Variables to checkpoint with the optimizer (none for stateless schedules)."""
        return {}

    def describe(self) -> str:
        """A one-line description for logs."""
        warmup = f", {self.warmup} warm-up {self.warmup_steps} steps" if self.warmup_steps else ""
        return f"{type(self).__name__} lr {self.learning_rate:g}{warmup}"

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "warmup": self.warmup,
            "warmup_factor": self.warmup_factor,
        }


class ConstantSchedule(Schedule):
    """A constant learning rate (after the warm-up)."""


class StepSchedule(Schedule):
    """Multiplies the rate by `factor` at each of `boundaries` (optimizer steps).

    ResNet paper 4.2 (CIFAR): 0.1, divided by 10 at 32k and 48k iterations.
    """

    def __init__(
        self, learning_rate: float, boundaries: Sequence[int], factor: float = 0.1, **warmup
    ) -> None:
        super().__init__(learning_rate, **warmup)
        boundaries = [int(b) for b in boundaries]
        if boundaries != sorted(boundaries) or any(b < 1 for b in boundaries):
            raise ValueError(f"boundaries must be increasing positive steps; got {boundaries}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1); got {factor}")
        self.boundaries = boundaries
        self.factor = float(factor)

    def decay(self, step: tf.Tensor) -> tf.Tensor:
        passed = tf.zeros_like(step)
        for boundary in self.boundaries:
            passed += tf.cast(step >= boundary, tf.float32)
        return tf.pow(self.factor, passed)

    def describe(self) -> str:
        return f"{super().describe()}, x{self.factor:g} at steps {self.boundaries}"

    def get_config(self) -> dict:
        return {**super().get_config(), "boundaries": self.boundaries, "factor": self.factor}


class CosineSchedule(Schedule):
    """Cosine decay to `final_fraction * learning_rate` at `total_steps`, after the warm-up.

    Loshchilov & Hutter 2017 (SGDR), without restarts; with a linear warm-up as Goyal et al.
    """

    def __init__(
        self, learning_rate: float, total_steps: int, final_fraction: float = 0.0, **warmup
    ) -> None:
        super().__init__(learning_rate, **warmup)
        if total_steps <= self.warmup_steps:
            raise ValueError(
                f"total_steps ({total_steps}) must exceed warmup_steps ({self.warmup_steps})"
            )
        self.total_steps = int(total_steps)
        self.final_fraction = float(final_fraction)

    def decay(self, step: tf.Tensor) -> tf.Tensor:
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        progress = tf.clip_by_value(progress, 0.0, 1.0)
        cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
        return self.final_fraction + (1.0 - self.final_fraction) * cosine

    def describe(self) -> str:
        return f"{super().describe()}, cosine to step {self.total_steps}"

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "final_fraction": self.final_fraction,
        }


class PlateauSchedule(Schedule):
    """Multiplies the rate by `factor` when the monitored value (to minimise, e.g. validation
    error) has not improved by `min_delta` for `patience` epochs, at most `max_reductions`
    times.

    AlexNet paper section 5 and VGG paper 3.1: 0.01, divided by 10 when the validation error
    stopped improving, three times. ResNet paper 3.4: 0.1, divided by 10 when the error
    plateaus. Call `update(value)` once per epoch with the same value on every worker.
    """

    def __init__(
        self,
        learning_rate: float,
        factor: float = 0.1,
        patience: int = 5,
        min_delta: float = 1e-4,
        max_reductions: int = 3,
        **warmup,
    ) -> None:
        super().__init__(learning_rate, **warmup)
        if not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1); got {factor}")
        if patience < 1:
            raise ValueError(f"patience must be at least 1 epoch; got {patience}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.max_reductions = int(max_reductions)
        self._state = {
            "scale": tf.Variable(1.0, trainable=False, name="plateau_scale"),
            "best": tf.Variable(math.inf, trainable=False, name="plateau_best"),
            "wait": tf.Variable(0, trainable=False, name="plateau_wait"),
            "reductions": tf.Variable(0, trainable=False, name="plateau_reductions"),
        }

    @property
    def state(self) -> dict[str, tf.Variable]:
        return self._state

    def decay(self, step: tf.Tensor) -> tf.Tensor:
        return tf.ones_like(step) * self._state["scale"]

    def update(self, value: float) -> bool:
        """Records one epoch's monitored value; returns True when the rate was reduced."""
        state = self._state
        if not math.isfinite(value):
            return False
        if value < float(state["best"].numpy()) - self.min_delta:
            state["best"].assign(value)
            state["wait"].assign(0)
            return False
        state["wait"].assign_add(1)
        if int(state["wait"].numpy()) < self.patience:
            return False
        state["wait"].assign(0)
        if int(state["reductions"].numpy()) >= self.max_reductions:
            return False
        state["reductions"].assign_add(1)
        state["scale"].assign(state["scale"] * self.factor)
        return True

    def describe(self) -> str:
        return (
            f"{super().describe()}, x{self.factor:g} after {self.patience} epochs without "
            f"improvement (at most {self.max_reductions} times)"
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "max_reductions": self.max_reductions,
        }
