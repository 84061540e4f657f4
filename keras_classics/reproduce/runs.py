"""Training one configuration with one seed on MNIST-1D arrays, with plain Keras `model.fit`.

A run's result is a small JSON record (curves and final numbers) kept under
`<output>/runs/<key>.json`, keyed by everything that determines it (dataset, model, options,
schedule, seed): an interrupted suite resumes where it stopped, and experiments that share a
configuration (degradation and shortcuts share plain-20 and ResNet-20 A) train it once.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_classics.data.mnist1d import load_mnist1d
from keras_classics.registry import get_model
from keras_classics.reproduce.experiments import Config, Schedule


@dataclass
class RunResult:
    """One trained configuration: errors per epoch (percent) and the final numbers."""

    label: str
    model: str
    options: dict[str, Any]
    dataset: str
    seed: int
    train_error: list[float]  # per epoch: the running error over the epoch's batches
    test_epochs: list[int]
    test_error: list[float]  # at `test_epochs`, inference mode
    final_train_error: float  # the whole training set after the last epoch, inference mode
    test_accuracy: float  # the test set after the last epoch
    wall_s: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def run_key(config: Config, schedule: Schedule, dataset: str, seed: int) -> str:
    """A file name that changes whenever anything that determines the run changes."""
    identity = json.dumps(
        [dataset, config.model, config.options, asdict(schedule), seed], sort_keys=True
    )
    digest = hashlib.sha1(identity.encode()).hexdigest()[:10]
    return f"{dataset}_{config.model}_seed{seed}_{digest}"


def make_optimizer(schedule: Schedule, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam or SGD with momentum; the rate divided by 10 at each of `schedule.decay_at`."""
    rate: Any = schedule.learning_rate
    if schedule.decay_at:
        total = schedule.epochs * steps_per_epoch
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [round(fraction * total) for fraction in schedule.decay_at],
            [schedule.learning_rate / 10**i for i in range(len(schedule.decay_at) + 1)],
        )
    if schedule.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=schedule.momentum)


def add_kernel_decay(model: keras.Model, weight_decay: float) -> None:
    """The papers' weight decay (`lambda * lr * w` per SGD update) as `L2(lambda / 2)` on every
    kernel, so the penalty joins `model.losses`; biases and BatchNormalization are not decayed."""
    regularizer = keras.regularizers.L2(weight_decay / 2)
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if weight_decay and isinstance(kernel, keras.Variable):
            kernel.regularizer = regularizer


def error_percent(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    predictions = model.predict(x, batch_size=1000, verbose=0)
    return float(100.0 * np.mean(np.argmax(predictions, axis=-1) != y))


class TestErrorCurve(keras.callbacks.Callback):
    """Test error (inference mode) every `every` epochs and after the last."""

    def __init__(self, x: np.ndarray, y: np.ndarray, every: int, epochs: int) -> None:
        super().__init__()
        self.x, self.y, self.every, self.epochs = x, y, every, epochs
        self.points: list[tuple[int, float]] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            self.points.append((epoch + 1, error_percent(self.model, self.x, self.y)))


def train_run(config: Config, schedule: Schedule, dataset: str, seed: int) -> RunResult:
    """Builds `config.model` with Keras seeded by `seed` (weights and batch order), trains it
    with `schedule` on `dataset` and measures it."""
    data = load_mnist1d(dataset)
    keras.utils.clear_session()  # a suite builds dozens of models in one process
    keras.utils.set_random_seed(seed)
    model = get_model(config.model, **config.options)
    add_kernel_decay(model, schedule.weight_decay)
    steps_per_epoch = -(-len(data["y"]) // schedule.batch_size)
    model.compile(
        optimizer=make_optimizer(schedule, steps_per_epoch),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    curve = TestErrorCurve(data["x_test"], data["y_test"], schedule.eval_every, schedule.epochs)
    start = time.perf_counter()
    history = model.fit(
        data["x"],
        data["y"],
        batch_size=schedule.batch_size,
        epochs=schedule.epochs,
        shuffle=True,
        callbacks=[curve],
        verbose=0,
    )
    final_train_error = error_percent(model, data["x"], data["y"])
    wall_s = time.perf_counter() - start
    epochs, test_error = zip(*curve.points, strict=True)
    return RunResult(
        label=config.label,
        model=config.model,
        options=dict(config.options),
        dataset=dataset,
        seed=seed,
        train_error=[round(100.0 * (1.0 - a), 3) for a in history.history["accuracy"]],
        test_epochs=list(epochs),
        test_error=list(test_error),
        final_train_error=final_train_error,
        test_accuracy=100.0 - test_error[-1],
        wall_s=round(wall_s, 2),
    )


def cached_run(
    config: Config, schedule: Schedule, dataset: str, seed: int, directory: Path
) -> tuple[RunResult, bool]:
    """`train_run`, or its record under `directory` if one exists; (result, was cached)."""
    path = directory / f"{run_key(config, schedule, dataset, seed)}.json"
    if path.is_file():
        record = json.loads(path.read_text())
        return RunResult(**{**record, "label": config.label}), True
    result = train_run(config, schedule, dataset, seed)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(result.to_json())
    return result, False
