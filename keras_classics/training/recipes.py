"""The papers' optimisation recipes per model family, scaled linearly with the batch size.

Sources (see /docs/training.md for the table): AlexNet, Krizhevsky et al. 2012, section 5;
VGG, Simonyan & Zisserman 2014, section 3.1; ResNet, He et al. 2015, section 3.4 (ImageNet) and
section 4.2 (CIFAR-10); MNIST-1D, Greydanus 2020, its repository's `train.py`
(`get_model_args`); linear scaling of the learning rate with the batch size and gradual
warm-up, Goyal et al. 2017, section 2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import keras

from keras_classics.training.schedules import (
    ConstantSchedule,
    CosineSchedule,
    PlateauSchedule,
    Schedule,
    StepSchedule,
)

# What --recipe takes: the family's paper schedule, or another schedule with the paper's
# optimiser, weight decay and (scaled) learning rate.
RECIPES = ("paper", "step", "plateau", "cosine", "constant")
# Runs on datasets other than the paper's (where the paper's length means nothing) train this
# many epochs unless --epochs says otherwise. (The no-argument run, CIFAR ResNet-20 on the
# 1,438 digits, reached test accuracy 0.930 after 10 epochs on this project's machines, 0.95-0.96
# after 20.)
DEFAULT_EPOCHS = 20
# The step recipe's default boundaries, as fractions of the run: the CIFAR schedule's 32k and
# 48k of 64k iterations (ResNet 4.2).
STEP_FRACTIONS = (0.5, 0.75)
# The cosine recipe's default warm-up: 5 epochs (Goyal et al. 2017), at most a tenth of the run.
COSINE_WARMUP_EPOCHS = 5.0
# The optimisers a recipe names: SGD with momentum (the ImageNet and CIFAR papers), Adam
# (MNIST-1D).
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class PaperRecipe:
    """One paper's optimiser and schedule, at the paper's batch size.

    `optimizer` is one of `OPTIMIZERS`; `momentum` is SGD's.

    `weight_decay` is the paper's coefficient lambda: each SGD update adds
    `lambda * lr * w`, which is an L2 penalty `lambda / 2 * sum(w ** 2)` in the loss (Keras
    `l2(lambda / 2)`).
    """

    family: str
    learning_rate: float
    batch_size: int
    weight_decay: float
    schedule: str
    epochs: int
    datasets: tuple[str, ...]
    source: str
    optimizer: str = "sgd"
    momentum: float = 0.9
    step_fractions: tuple[float, ...] = ()
    # ResNet 4.2: ResNet-110 (and deeper) warm up at lr / 10 for about 400 iterations.
    warmup_iterations_from_depth: tuple[int, int] = (0, 0)


PAPER_RECIPES: dict[str, PaperRecipe] = {
    r.family: r
    for r in (
        PaperRecipe(
            "alexnet",
            learning_rate=0.01,
            batch_size=128,
            weight_decay=5e-4,
            schedule="plateau",
            epochs=90,
            datasets=("imagenet2012",),
            source="Krizhevsky et al. 2012, section 5: SGD batch 128, momentum 0.9, weight "
            "decay 5e-4, lr 0.01 divided by 10 when the validation error stopped improving "
            "(3 times), about 90 epochs",
        ),
        PaperRecipe(
            "vgg",
            learning_rate=0.01,
            batch_size=256,
            weight_decay=5e-4,
            schedule="plateau",
            epochs=74,
            datasets=("imagenet2012",),
            source="Simonyan & Zisserman 2014, section 3.1: SGD batch 256, momentum 0.9, "
            "weight decay 5e-4, lr 0.01 divided by 10 when the validation accuracy stopped "
            "improving (3 times), 74 epochs",
        ),
        PaperRecipe(
            "resnet",
            learning_rate=0.1,
            batch_size=256,
            weight_decay=1e-4,
            schedule="plateau",
            epochs=120,
            datasets=("imagenet2012",),
            source="He et al. 2015, section 3.4: SGD batch 256, momentum 0.9, weight decay "
            "1e-4, lr 0.1 divided by 10 when the error plateaus, up to 60e4 iterations "
            "(120 epochs)",
        ),
        PaperRecipe(
            "resnet_cifar",
            learning_rate=0.1,
            batch_size=128,
            weight_decay=1e-4,
            schedule="step",
            epochs=164,
            datasets=("cifar10",),
            step_fractions=STEP_FRACTIONS,
            warmup_iterations_from_depth=(110, 400),
            source="He et al. 2015, section 4.2: SGD batch 128, momentum 0.9, weight decay "
            "1e-4, lr 0.1 divided by 10 at 32k and 48k iterations, stop at 64k (164 epochs); "
            "ResNet-110 warms up at 0.01 for 400 iterations",
        ),
        PaperRecipe(
            "mnist1d",
            optimizer="adam",
            learning_rate=1e-2,
            batch_size=100,
            weight_decay=0.0,
            schedule="constant",
            epochs=150,
            datasets=("mnist1d", "mnist1d_shuffled"),
            source="Greydanus 2020, the MNIST-1D repository's train.py (get_model_args), for "
            "every model: Adam, lr 1e-2 constant, batch 100, 6,000 steps (150 epochs of the "
            "4,000 training signals), no weight decay",
        ),
    )
}


def paper_recipe(family: str) -> PaperRecipe:
    """The recipe of a model family ("alexnet", "vgg", "resnet", "resnet_cifar", "mnist1d")."""
    try:
        return PAPER_RECIPES[family]
    except KeyError:
        raise ValueError(
            f"no paper recipe for family {family!r}; choose one of {list(PAPER_RECIPES)}"
        ) from None


def scaled_learning_rate(recipe: PaperRecipe, global_batch_size: int) -> float:
    """The linear scaling rule (Goyal et al. 2017, 2.1): lr * batch / the paper's batch."""
    return recipe.learning_rate * global_batch_size / recipe.batch_size


def model_depth(model_name: str) -> int:
    """The depth in a registered name ("resnet110" -> 110, "vgg16_bn" -> 16); 0 if none."""
    match = re.search(r"(\d+)", model_name)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Hyperparameters:
    """Everything the optimiser and the schedule need, resolved for one run."""

    recipe: str
    paper: PaperRecipe
    global_batch_size: int
    learning_rate: float
    momentum: float
    nesterov: bool
    weight_decay: float
    label_smoothing: float
    epochs: int
    steps_per_epoch: int
    schedule_name: str
    warmup_steps: int
    warmup: str
    boundaries: tuple[int, ...] = ()
    gamma: float = 0.1
    patience: int = 5
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def optimizer(self) -> str:
        return self.paper.optimizer

    def make_optimizer(self, schedule: Schedule, **options: Any) -> keras.optimizers.Optimizer:
        """The paper's optimiser on `schedule` (with Keras `options`, e.g. EMA); in scope."""
        if self.optimizer == "adam":
            return keras.optimizers.Adam(learning_rate=schedule, **options)
        return keras.optimizers.SGD(
            learning_rate=schedule, momentum=self.momentum, nesterov=self.nesterov, **options
        )

    @property
    def l2(self) -> float:
        """The Keras L2 coefficient in the loss that equals the papers' weight decay."""
        return self.weight_decay / 2

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def make_schedule(self) -> Schedule:
        """Builds the schedule (create it inside the strategy's scope)."""
        warmup = {"warmup_steps": self.warmup_steps, "warmup": self.warmup}
        if self.schedule_name == "step":
            return StepSchedule(self.learning_rate, self.boundaries, self.gamma, **warmup)
        if self.schedule_name == "plateau":
            return PlateauSchedule(self.learning_rate, self.gamma, patience=self.patience, **warmup)
        if self.schedule_name == "cosine":
            return CosineSchedule(
                self.learning_rate, max(self.total_steps, 1 + self.warmup_steps), **warmup
            )
        return ConstantSchedule(self.learning_rate, **warmup)


def resolve(
    family: str,
    *,
    model_name: str = "",
    recipe: str = "paper",
    dataset: str = "",
    train_examples: int,
    global_batch_size: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    learning_rate: float | None = None,
    weight_decay: float | None = None,
    momentum: float | None = None,
    nesterov: bool = False,
    label_smoothing: float = 0.0,
    warmup_epochs: float | None = None,
    warmup: str | None = None,
    boundaries_epochs: tuple[float, ...] | None = None,
    gamma: float = 0.1,
    patience: int = 5,
) -> Hyperparameters:
    """Resolves a run's hyper-parameters from the family's paper recipe and the overrides.

    The paper's learning rate is scaled linearly with `global_batch_size` (default: the paper's
    batch); an explicit `learning_rate` is used as given. Without `epochs`, runs on the paper's
    dataset train as long as the paper; others train `DEFAULT_EPOCHS`.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {list(RECIPES)}")
    paper = paper_recipe(family)
    notes: list[str] = []
    batch = global_batch_size or paper.batch_size
    if batch < 1:
        raise ValueError(f"the global batch size must be positive; got {batch}")
    if learning_rate is None:
        learning_rate = scaled_learning_rate(paper, batch)
        if batch != paper.batch_size:
            notes.append(
                f"lr {paper.learning_rate:g} x {batch}/{paper.batch_size} = {learning_rate:g} "
                "(linear scaling with the global batch, Goyal et al. 2017)"
            )
    if epochs is None:
        epochs = paper.epochs if dataset in paper.datasets else DEFAULT_EPOCHS
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1; got {epochs}")
    if steps_per_epoch is None:
        steps_per_epoch = train_examples // batch
        if steps_per_epoch < 1:
            raise ValueError(
                f"the training split has {train_examples} examples, fewer than one global batch "
                f"of {batch}: pass a smaller --batch-size"
            )
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1; got {steps_per_epoch}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1); got {label_smoothing}")
    schedule = paper.schedule if recipe == "paper" else recipe
    total = epochs * steps_per_epoch

    warmup_steps, method = 0, "linear"
    min_depth, iterations = paper.warmup_iterations_from_depth
    if warmup_epochs is not None:
        warmup_steps = round(warmup_epochs * steps_per_epoch)
    elif recipe == "paper" and iterations and model_depth(model_name) >= min_depth:
        method = "constant"
        warmup_steps = math.ceil(iterations * paper.batch_size / batch)
    elif schedule == "cosine":
        warmup_steps = min(round(COSINE_WARMUP_EPOCHS * steps_per_epoch), total // 10)

    boundaries: tuple[int, ...] = ()
    if schedule == "step":
        if boundaries_epochs:
            boundaries = tuple(round(b * steps_per_epoch) for b in boundaries_epochs)
        else:
            fractions = paper.step_fractions or STEP_FRACTIONS
            boundaries = tuple(max(1, round(f * total)) for f in fractions)
    elif boundaries_epochs:
        raise ValueError(f"boundaries are for the step schedule, not {schedule!r}")
    return Hyperparameters(
        recipe=recipe,
        paper=paper,
        global_batch_size=batch,
        learning_rate=learning_rate,
        momentum=paper.momentum if momentum is None else momentum,
        nesterov=nesterov,
        weight_decay=paper.weight_decay if weight_decay is None else weight_decay,
        label_smoothing=label_smoothing,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        schedule_name=schedule,
        warmup_steps=warmup_steps,
        warmup=warmup or method,
        boundaries=boundaries,
        gamma=gamma,
        patience=patience,
        notes=tuple(notes),
    )
