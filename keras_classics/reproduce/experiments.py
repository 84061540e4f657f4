"""The reproduced experiments as data: configurations, the literature's schedules, the claims.

Every schedule is fixed from its source before any result was seen:
- MNIST-1D (Greydanus 2020; its repository's `train.py`, `get_model_args`): Adam, learning
  rate 1e-2, batch 100, 6,000 steps (= 150 epochs of the 4,000 training signals), no weight
  decay, no augmentation.
- The ResNet paper's CIFAR recipe (section 4.2), scaled down in length only: SGD with momentum
  0.9, learning rate 0.1 divided by 10 at 50% and 75% of training (32k and 48k of 64k
  iterations), weight decay 1e-4 on the weights, batch 128; 40 epochs of MNIST-1D instead of
  164 epochs of CIFAR-10 (the 2-core budget), no augmentation (MNIST-1D's signals are already
  randomly padded, sheared and translated).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

# The metrics a run reports, in percent, and how the tables name them.
METRICS = {"test_accuracy": "test accuracy %", "train_error": "final training error %"}
OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Schedule:
    """How one configuration is trained: optimiser, learning rate (steps), batch, epochs."""

    optimizer: str  # "adam" or "sgd"
    learning_rate: float
    batch_size: int
    epochs: int
    momentum: float = 0.0
    weight_decay: float = 0.0  # the papers' coefficient, on kernels only
    decay_at: tuple[float, ...] = ()  # fractions of training where the rate is divided by 10
    eval_every: int = 1  # epochs between test-error points of the curves

    def scaled(self, epochs: int, eval_every: int) -> Schedule:
        """The same recipe over `epochs` (the `--quick` versions)."""
        return Schedule(**{**self.__dict__, "epochs": epochs, "eval_every": eval_every})

    def describe(self) -> str:
        decay = f", /10 at {', '.join(f'{f:.0%}' for f in self.decay_at)}" if self.decay_at else ""
        extra = f", momentum {self.momentum:g}" if self.momentum else ""
        extra += f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return (
            f"{self.optimizer.upper()} lr {self.learning_rate:g}{decay}{extra}, "
            f"batch {self.batch_size}, {self.epochs} epochs"
        )


@dataclass(frozen=True)
class Config:
    """One row of a table: a registered model with options, and the paper's number if any."""

    label: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    published: float | None = None


@dataclass(frozen=True)
class Claim:
    """`left op right` on the mean over seeds of `metric`; right is a number or a label."""

    metric: str
    left: str
    op: str
    right: float | str

    def holds(self, means: dict[str, dict[str, float]]) -> bool:
        right = means[self.right][self.metric] if isinstance(self.right, str) else self.right
        return OPERATORS[self.op](means[self.left][self.metric], right)

    def __str__(self) -> str:
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"{METRICS[self.metric]}: {self.left} {self.op} {right}"


@dataclass(frozen=True)
class Experiment:
    """Configurations trained with one schedule on one dataset, seeds, and what should hold."""

    name: str
    title: str
    dataset: str  # an MNIST-1D variant
    configs: tuple[Config, ...]
    schedule: Schedule
    quick_schedule: Schedule
    claims: tuple[Claim, ...]
    quick_claims: tuple[Claim, ...]
    published_metric: str  # what `Config.published` measures, with its source
    seeds: tuple[int, ...] = (0, 1, 2)
    quick_seeds: tuple[int, ...] = (0,)

    def config(self, label: str) -> Config:
        return next(c for c in self.configs if c.label == label)


MNIST1D_SCHEDULE = Schedule("adam", 1e-2, 100, epochs=150, eval_every=5)
RESNET_CIFAR_SCHEDULE = Schedule(
    "sgd",
    0.1,
    128,
    epochs=40,
    momentum=0.9,
    weight_decay=1e-4,
    decay_at=(0.5, 0.75),
    eval_every=2,
)
MNIST1D_QUICK = MNIST1D_SCHEDULE.scaled(epochs=20, eval_every=5)
RESNET_CIFAR_QUICK = RESNET_CIFAR_SCHEDULE.scaled(epochs=3, eval_every=3)
MNIST1D_SOURCE = "test accuracy %, Greydanus 2020 (MNIST-1D README table)"


def _bounds(metric: str, label: str, low: float, high: float) -> tuple[Claim, Claim]:
    return Claim(metric, label, ">=", low), Claim(metric, label, "<=", high)


def _configs(*rows: tuple[str, str, dict[str, Any], float | None]) -> tuple[Config, ...]:
    return tuple(
        Config(label, model, options, published) for label, model, options, published in rows
    )


def _mnist1d_baselines(cnn: float) -> tuple[Config, ...]:
    """The paper's logistic regression, MLP and CNN with their published test accuracies."""
    return _configs(
        ("logistic", "logistic_1d", {}, 32.0),
        ("MLP", "mlp_1d", {}, 68.0),
        ("CNN", "cnn_1d", {}, cnn),
    )


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            name="mnist1d",
            title="MNIST-1D baselines and the 1D ResNet (Greydanus 2020, Table 2)",
            dataset="mnist1d",
            configs=(*_mnist1d_baselines(cnn=94.0), Config("ResNet-20", "resnet20_1d")),
            schedule=MNIST1D_SCHEDULE,
            quick_schedule=MNIST1D_QUICK,
            claims=(
                Claim("test_accuracy", "CNN", ">=", 93.0),
                Claim("test_accuracy", "ResNet-20", ">=", "CNN"),
                *_bounds("test_accuracy", "MLP", 66.0, 70.0),
                *_bounds("test_accuracy", "logistic", 30.0, 34.0),
            ),
            quick_claims=(
                Claim("test_accuracy", "CNN", ">=", 85.0),
                Claim("test_accuracy", "CNN", ">", "logistic"),
            ),
            published_metric=MNIST1D_SOURCE,
        ),
        Experiment(
            name="mnist1d_shuffled",
            title="MNIST-1D with the positions shuffled (Greydanus 2020, Table 2)",
            dataset="mnist1d_shuffled",
            configs=_mnist1d_baselines(cnn=56.0),
            schedule=MNIST1D_SCHEDULE,
            quick_schedule=MNIST1D_QUICK,
            claims=(
                *_bounds("test_accuracy", "CNN", 51.0, 61.0),
                Claim("test_accuracy", "CNN", "<", "MLP"),
            ),
            quick_claims=(Claim("test_accuracy", "CNN", "<", 85.0),),
            published_metric=MNIST1D_SOURCE,
        ),
        Experiment(
            name="degradation",
            title="The degradation problem (He et al. 2015, Fig. 1 and Fig. 6), 1D nets",
            dataset="mnist1d",
            configs=_configs(
                ("plain-20", "plain20_1d", {}, None),
                ("plain-56", "plain56_1d", {}, None),
                ("ResNet-20", "resnet20_1d", {}, None),
                ("ResNet-56", "resnet56_1d", {}, None),
            ),
            schedule=RESNET_CIFAR_SCHEDULE,
            quick_schedule=RESNET_CIFAR_QUICK,
            claims=(
                Claim("train_error", "plain-56", ">", "plain-20"),
                Claim("train_error", "ResNet-56", "<=", "ResNet-20"),
                Claim("train_error", "ResNet-20", "<", "plain-56"),
            ),
            quick_claims=(Claim("train_error", "ResNet-56", "<", "plain-56"),),
            published_metric="curves only (Fig. 6: CIFAR-10 training error, plain-56 above "
            "plain-20, ResNet-56 below ResNet-20)",
        ),
        Experiment(
            name="shortcuts",
            title="Shortcut options A, B, C (He et al. 2015, Table 3), 1D ResNet-20",
            dataset="mnist1d",
            configs=_configs(
                ("plain-20", "plain20_1d", {}, 28.54),
                ("ResNet-20 A", "resnet20_1d", {}, 25.03),
                ("ResNet-20 B", "resnet20_1d", {"shortcut": "B"}, 24.52),
                ("ResNet-20 C", "resnet20_1d", {"shortcut": "C"}, 24.19),
            ),
            schedule=RESNET_CIFAR_SCHEDULE,
            quick_schedule=RESNET_CIFAR_QUICK,
            claims=(
                Claim("test_accuracy", "ResNet-20 A", ">", "plain-20"),
                Claim("test_accuracy", "ResNet-20 B", ">", "plain-20"),
                Claim("test_accuracy", "ResNet-20 C", ">", "plain-20"),
                Claim("test_accuracy", "ResNet-20 C", ">=", "ResNet-20 A"),
            ),
            quick_claims=(),
            published_metric="ImageNet top-1 error %, 10-crop, ResNet-34 / plain-34 (Table 3); "
            "compare the ordering, not the values",
        ),
    )
}


def get_experiment(name: str) -> Experiment:
    """The experiment `name`; a clear error lists the valid names."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}")
    return EXPERIMENTS[name]
