"""One run's settings (what `scripts/train.py` parses), with the defaults of the no-argument run.

The no-argument run trains CIFAR ResNet-20 on the embedded digits dataset with the paper's
CIFAR recipe, for `recipes.DEFAULT_EPOCHS` epochs: minutes on 2 CPU cores, offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --precision -> Keras dtype policy. float16 trains with dynamic loss scaling
# (keras.optimizers.LossScaleOptimizer); bfloat16 needs none.
PRECISIONS = {"float32": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


@dataclass
class RunConfig:
    """Every option of a training or evaluation run (see docs/training.md)."""

    # model and data
    model: str = "resnet20"
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset: str = "digits"
    data_dir: str | None = None
    manual_dir: str | None = None
    download: bool = False
    image_size: int | None = None
    augmentation: str | None = None
    normalization: str | None = None
    cache: bool = False
    # distribution
    strategy: str = "auto"
    devices: tuple[str, ...] = ()
    cpu_devices: int | None = None
    tpu: str | None = None
    batch_size: int | None = None
    # optimisation
    recipe: str = "paper"
    learning_rate: float | None = None
    momentum: float | None = None
    nesterov: bool = False
    weight_decay: float | None = None
    label_smoothing: float = 0.0
    warmup_epochs: float | None = None
    lr_boundaries: tuple[float, ...] | None = None
    patience: int = 5
    epochs: int | None = None
    steps_per_epoch: int | None = None
    # speed
    precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    # outputs
    output_dir: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    keep_checkpoints: int = 3
    resume: bool = True
    log_every: int = 100
    evaluate: str | None = None
    export_dir: str | None = None
    seed: int = 0
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; choose one of {list(PRECISIONS)}"
            )
        for name in ("steps_per_execution", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        for name in ("checkpoint_every", "log_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: never); got {getattr(self, name)}")

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
