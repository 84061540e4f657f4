"""Every option of a training run, declared once, as data: `RunConfig`.

Each field carries its command-line help, choices, aliases and group in its metadata;
`options.py` generates `scripts/train.py`'s command line from them, and `resolved.py` fills
every `None` ("the default rule decides") once. The no-argument run trains CIFAR ResNet-20 on
the embedded digits dataset with the paper's CIFAR recipe for `recipes.DEFAULT_EPOCHS` epochs:
a few minutes on 2 CPU cores, offline.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from keras_classics.data.augment import RECIPES as AUGMENTATIONS
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import get_entry, list_models
from keras_classics.training.recipes import DEFAULT_EPOCHS, RECIPES
from keras_classics.training.schedules import WARMUPS
from keras_classics.training.strategies import STRATEGIES

# --precision -> Keras dtype policy. float16 trains with dynamic loss scaling
# (keras.optimizers.LossScaleOptimizer); bfloat16 needs none.
PRECISIONS = {"float32": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
# --resume: the newest checkpoint of the run, or none (start over); anything else is a path.
RESUME_AUTO, RESUME_NONE = "auto", "none"


def option(
    default: Any,
    help: str,
    *,
    group: str,
    choices: typing.Sequence[str] | None = None,
    aliases: tuple[str, ...] = (),
    flag: str | None = None,
    metavar: str | None = None,
    torchvision: str | None = None,
) -> Any:
    """A `RunConfig` field with what its command-line flag needs (help, choices, aliases) and
    the equivalent flag of torchvision's reference script, for the documentation's table."""
    metadata = {
        "help": help,
        "group": group,
        "choices": tuple(choices) if choices else None,
        "aliases": aliases,
        "flag": flag,
        "metavar": metavar,
        "torchvision": torchvision,
    }
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class RunConfig:
    """One run's options (docs/training.md has the table; None: the resolved default)."""

    # --- model ---
    model: str = option(
        "resnet20",
        "a registered model",
        group="model",
        choices=list_models(),
        torchvision="--model",
    )
    model_options: dict[str, Any] = option(  # noqa: RUF009 (option() makes a default_factory)
        {},
        "a builder argument, repeatable: --model-option shortcut=A --model-option plain=True "
        "(classes defaults to the dataset's)",
        group="model",
        flag="--model-option",
        metavar="KEY=VALUE",
    )
    weights: str | None = option(
        None,
        "fine-tune: start from a preset (resnet18.tv_in1k, 'imagenet': the model's default; "
        "keras_classics.list_presets()), a .keras model or a backbone .weights.h5 "
        "(include_top=False) of --model, with a new head for the dataset's classes; the "
        "weights' normalisation is the default",
        group="model",
        metavar="PRESET|PATH",
        torchvision="--weights",
    )
    freeze: bool = option(
        False, "with --weights: keep the whole backbone fixed (train the head only)", group="model"
    )
    freeze_until: str | None = option(
        None,
        "with --weights: keep the layers up to and including this one fixed",
        group="model",
        metavar="LAYER_NAME",
    )
    # --- data ---
    dataset: str = option(
        "digits",
        "'digits' (embedded), 'synthetic' (random, for speed), a TFDS name (cifar10, "
        "imagenet2012, ...) or an image folder (one subfolder per class)",
        group="data",
        torchvision="--data-path",
    )
    data_dir: str | None = option(None, "TFDS data directory", group="data")
    manual_dir: str | None = option(None, "TFDS manual download directory", group="data")
    download: bool = option(False, "let TFDS download the dataset", group="data")
    train_crop_size: int | None = option(
        None,
        "training crop; the model is built for it (default: the model's input size)",
        group="data",
        aliases=("--image-size",),
        torchvision="--train-crop-size",
    )
    val_resize_size: int | None = option(
        None,
        "evaluation: shorter side before the centre crop (default: the recipe's: 256 for a "
        "224 crop, the crop itself for CIFAR)",
        group="data",
        torchvision="--val-resize-size",
    )
    val_crop_size: int | None = option(
        None,
        "evaluation centre crop (default: the training crop; a different one builds the model "
        "for any input size)",
        group="data",
        torchvision="--val-crop-size",
    )
    augmentation: str | None = option(
        None,
        "augmentation recipe (default: the model family's)",
        group="data",
        choices=list(AUGMENTATIONS),
    )
    normalization: str | None = option(
        None,
        "input normalisation (default: the recipe's)",
        group="data",
        choices=list(NORMALIZATIONS),
    )
    randaugment: float | None = option(
        None,
        "keras.layers.RandAugment with this factor (0-1; 2 ops per image)",
        group="data",
        torchvision="--auto-augment ra --ra-magnitude M",
    )
    mixup_alpha: float = option(
        0.0,
        "keras.layers.MixUp with this alpha on each batch; the labels become soft (0: off)",
        group="data",
        torchvision="--mixup-alpha",
    )
    cutmix_alpha: float = option(
        0.0,
        "keras.layers.CutMix with this alpha on each batch; the labels become soft (0: off)",
        group="data",
        torchvision="--cutmix-alpha",
    )
    random_erase: float = option(
        0.0,
        "keras.layers.RandomErasing with this probability, on the 0-255 batch (0: off)",
        group="data",
        torchvision="--random-erase",
    )
    cache: bool = option(False, "cache the source in memory", group="data")
    deterministic: bool = option(
        False,
        "deterministic tf.data",
        group="data",
        torchvision="--use-deterministic-algorithms",
    )
    seed: int = option(0, "seed of the weights and the data", group="data")
    # --- distribution ---
    strategy: str = option(
        "auto",
        "auto: multi_worker with a TF_CONFIG cluster, mirrored on several devices, "
        "one_device on one GPU, else default",
        group="distribution",
        choices=STRATEGIES,
        torchvision="(torchrun)",
    )
    devices: tuple[str, ...] = option(
        (), "devices for one_device / mirrored, e.g. /gpu:0,/gpu:1", group="distribution"
    )
    cpu_devices: int | None = option(
        None,
        "split the CPU into this many logical devices (mirrored on a CPU machine)",
        group="distribution",
    )
    tpu: str | None = option(None, "TPU name or address for --strategy tpu", group="distribution")
    batch_size: int | None = option(
        None,
        "GLOBAL batch over all replicas (default: the paper's); each replica gets batch / "
        "replicas, which must divide it",
        group="distribution",
        torchvision="-b (per GPU)",
    )
    # --- optimisation ---
    recipe: str = option(
        "paper",
        "paper: the family's paper schedule; step / plateau / cosine / constant: that "
        "schedule with the paper's optimiser",
        group="optimisation",
        choices=RECIPES,
        torchvision="--lr-scheduler",
    )
    learning_rate: float | None = option(
        None,
        "used as given (default: the paper's, scaled linearly with the global batch)",
        group="optimisation",
        aliases=("--lr",),
        torchvision="--lr",
    )
    momentum: float | None = option(
        None, "SGD momentum (default: the paper's)", group="optimisation", torchvision="--momentum"
    )
    nesterov: bool = option(False, "Nesterov momentum", group="optimisation")
    weight_decay: float | None = option(
        None,
        "the papers' lambda on conv/dense kernels (default: the paper's)",
        group="optimisation",
        aliases=("--wd",),
        torchvision="--wd",
    )
    label_smoothing: float = option(
        0.0,
        "targets (1 - e) one-hot + e / classes (Szegedy et al. 2016), also on soft labels",
        group="optimisation",
        torchvision="--label-smoothing",
    )
    lr_warmup_epochs: float | None = option(
        None,
        "warm-up length in epochs (default: the recipe's)",
        group="optimisation",
        aliases=("--warmup-epochs",),
        torchvision="--lr-warmup-epochs",
    )
    lr_warmup_method: str | None = option(
        None,
        "linear (ramp up) or constant (lr x 0.1 first; default: the recipe's)",
        group="optimisation",
        choices=WARMUPS,
        torchvision="--lr-warmup-method",
    )
    lr_boundaries: tuple[float, ...] | None = option(
        None,
        "step schedule: epochs at which the rate is multiplied by --lr-gamma (default: "
        "50%%, 75%% of the run)",
        group="optimisation",
        torchvision="--lr-step-size",
    )
    lr_gamma: float = option(
        0.1,
        "factor of the step and plateau schedules",
        group="optimisation",
        torchvision="--lr-gamma",
    )
    patience: int = option(5, "plateau schedule: epochs without improvement", group="optimisation")
    epochs: int | None = option(
        None,
        f"default: the paper's on its dataset, else {DEFAULT_EPOCHS}",
        group="optimisation",
        torchvision="--epochs",
    )
    steps_per_epoch: int | None = option(
        None, "default: training images // global batch", group="optimisation"
    )
    clip_grad_norm: float | None = option(
        None,
        "clip the global norm of the (all-replica) gradient to this",
        group="optimisation",
        torchvision="--clip-grad-norm",
    )
    model_ema: float | None = option(
        None,
        "keep an exponential moving average of the weights with this decay per step "
        "(e.g. 0.999); evaluated beside the weights, saved as model_ema.keras",
        group="optimisation",
        aliases=("--model-ema-decay",),
        torchvision="--model-ema --model-ema-decay",
    )
    # --- speed ---
    precision: str = option(
        "float32",
        "float16: mixed, loss scaling; bfloat16: mixed",
        group="speed",
        choices=list(PRECISIONS),
        torchvision="--amp",
    )
    jit_compile: bool = option(False, "XLA-compile each replica's step", group="speed")
    steps_per_execution: int = option(1, "training steps per tf.function call", group="speed")
    # --- outputs ---
    output_dir: str | None = option(
        None,
        "reports, logs, model (default runs/MODEL_DATASET)",
        group="outputs",
        torchvision="--output-dir",
    )
    checkpoint_dir: str | None = option(None, "default OUTPUT_DIR/checkpoints", group="outputs")
    checkpoint_every: int = option(
        0, "also checkpoint every N steps (0: at the end of each epoch only)", group="outputs"
    )
    keep_checkpoints: int = option(3, "checkpoints kept", group="outputs")
    resume: str = option(
        RESUME_AUTO,
        "auto: from the run's newest checkpoint; none: start over, deleting the "
        "checkpoints; or a checkpoint (directory or prefix) to start from",
        group="outputs",
        metavar="auto|none|PATH",
        torchvision="--resume PATH",
    )
    resume_changed: bool = option(
        False,
        "resume even when the model, data, batch or optimisation differ from the stored run's",
        group="outputs",
    )
    log_every: int = option(
        100,
        "loss and accuracy every N steps (0: never)",
        group="outputs",
        torchvision="--print-freq",
    )
    progress_seconds: float = option(
        5.0,
        "a progress line (step, images/s, ETA) at most every this many seconds",
        group="outputs",
    )
    evaluate: str | None = option(
        None,
        "only evaluate a .keras file, a .weights.h5 file (of --model), a checkpoint or "
        "an exported SavedModel (a version directory, or the export base: its newest version)",
        group="outputs",
        metavar="SAVED",
    )
    test_only: bool = option(
        False,
        "only evaluate the run's newest checkpoint (or --resume PATH)",
        group="outputs",
        torchvision="--test-only",
    )
    export_dir: str | None = option(
        None,
        "export for TF Serving at the end, with the run's preprocessing record (the chief only)",
        group="outputs",
    )

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            choices, value = item.metadata["choices"], getattr(self, item.name)
            if choices and value is not None and value not in choices:
                raise ValueError(f"unknown {item.name} {value!r}; choose one of {list(choices)}")
        for name in ("steps_per_execution", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        for name in (
            "batch_size",
            "epochs",
            "steps_per_epoch",
            "train_crop_size",
            "val_crop_size",
            "val_resize_size",
        ):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        for name in ("checkpoint_every", "log_every", "mixup_alpha", "cutmix_alpha"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: off); got {getattr(self, name)}")
        for name in ("random_erase", "randaugment", "label_smoothing"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]; got {value}")
        if self.model_ema is not None and not 0.0 < self.model_ema < 1.0:
            raise ValueError(f"model_ema (a decay) must lie in (0, 1); got {self.model_ema}")
        if (self.freeze or self.freeze_until) and not self.weights:
            raise ValueError("freeze and freeze_until need weights (a preset or a file)")
        if self.freeze and self.freeze_until:
            raise ValueError("give freeze (the whole backbone) or freeze_until, not both")
        if self.clip_grad_norm is not None and self.clip_grad_norm <= 0:
            raise ValueError(f"clip_grad_norm must be positive; got {self.clip_grad_norm}")
        if self.export_dir and get_entry(self.model).signals:
            raise ValueError(
                f"export_dir: model {self.model!r} takes 1D signals and the TF Serving export "
                "serves images; train it without --export-dir"
            )

    @property
    def run_dir(self) -> str:
        """Where reports go: `output_dir`, by default `runs/<model>_<dataset>`."""
        if self.output_dir:
            return self.output_dir
        dataset = self.dataset.rstrip("/").replace("/", "_").replace(":", "_")
        return f"runs/{self.model}_{dataset}"

    @property
    def checkpoints(self) -> str:
        """Checkpoint directory, by default `<run_dir>/checkpoints`."""
        return self.checkpoint_dir or f"{self.run_dir}/checkpoints"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (tuples as lists)."""
        return json_values(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> RunConfig:
        """The inverse of `to_json`; unknown names are an error that lists the valid ones."""
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; valid: {sorted(hints)}")
        return cls(**{name: from_json_value(v) for name, v in values.items()})


def json_values(value: Any) -> Any:
    """Tuples become lists, recursively."""
    if isinstance(value, dict):
        return {k: json_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_values(v) for v in value]
    return value


def from_json_value(value: Any) -> Any:
    """A JSON value back as a field's value: lists become tuples (builder arguments too)."""
    if isinstance(value, list):
        return tuple(from_json_value(v) for v in value)
    if isinstance(value, dict):
        return {k: from_json_value(v) for k, v in value.items()}
    return value
