"""The run configuration resolved ONCE: every default filled, every derived value computed.

`resolve_config` is the one place where a `None` option becomes a value (image sizes, the
augmentation and the normalisation (the weights' when fine-tuning), the paper's batch,
learning rate, epochs, warm-up and step boundaries) and where the derived values are
computed (classes, input shape, replicas, per-replica batch, steps). The result is printed at
the start of a run and stored as `config.json` in the run directory; its options replay the
run (`--config`), and resolving them again gives the same configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from keras_classics import data
from keras_classics.registry import ModelEntry
from keras_classics.training import recipes
from keras_classics.training.config import RunConfig
from keras_classics.training.finetune import weights_record
from keras_classics.training.loop import per_replica_batch_size

CONFIG_JSON = "config.json"


@dataclass(frozen=True)
class Derived:
    """What follows from the options, the model, the dataset and the cluster."""

    family: str
    classes: int
    input_shape: tuple[int, ...]
    train_split: str
    eval_split: str
    train_examples: int
    eval_examples: int | None
    replicas: int
    workers: int
    per_replica_batch_size: int
    schedule: str
    warmup_steps: int
    boundary_steps: tuple[int, ...]
    total_steps: int


@dataclass(frozen=True)
class Resolved:
    """A fully specified run: `options` without a `None` left to a default rule, `derived`."""

    options: RunConfig
    derived: Derived
    hyperparameters: recipes.Hyperparameters = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        derived = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self.derived).items()
        }
        return {"options": self.options.to_json(), "derived": derived}

    def describe(self) -> str:
        """The configuration as `name = value` lines, for the start of the log."""
        lines = ["resolved configuration (stored as config.json; replay with --config):"]
        for part in self.to_json().values():
            lines += [f"  {name} = {value}" for name, value in part.items()]
        return "\n".join(lines)

    def changes_from(self, stored: dict[str, Any]) -> list[str]:
        """`name: old -> new` for every option that differs from a stored `to_json()`."""
        old, new = stored.get("options", {}), self.options.to_json()
        return [f"{k}: {old.get(k)!r} -> {v!r}" for k, v in new.items() if old.get(k) != v]


def input_shape(entry: ModelEntry, crop: int, val_crop: int) -> tuple[int | None, ...]:
    """The model's input: its signals, or the crop (any size where evaluation crops another)."""
    if entry.signals:
        return entry.input_shape
    return (crop, crop, 3) if val_crop == crop else (None, None, 3)


def resolve_config(
    config: RunConfig,
    *,
    entry: ModelEntry,
    source: data.DataSource,
    replicas: int = 1,
    workers: int = 1,
) -> Resolved:
    """Fills every default of `config` for `entry` on `source` over `replicas` replicas."""
    augmentation = data.get_recipe(
        config.augmentation or data.DEFAULT_RECIPE_BY_FAMILY[entry.family]
    )
    crop = config.train_crop_size or entry.input_size
    val_crop = config.val_crop_size or crop
    train_examples = source.sizes[source.train_split]
    hp = recipes.resolve(
        entry.family,
        model_name=entry.name,
        recipe=config.recipe,
        dataset=source.name,
        train_examples=train_examples,
        global_batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        momentum=config.momentum,
        nesterov=config.nesterov,
        label_smoothing=config.label_smoothing,
        warmup_epochs=config.lr_warmup_epochs,
        warmup=config.lr_warmup_method,
        boundaries_epochs=config.lr_boundaries,
        gamma=config.lr_gamma,
        patience=config.patience,
    )
    spe = hp.steps_per_epoch
    # Fine-tuning trains with the weights' normalisation (their record), not the recipe's.
    record = weights_record(config.weights, entry.name) if config.weights else None
    options = dataclasses.replace(
        config,
        augmentation=augmentation.name,
        normalization=config.normalization
        or (record.normalization if record else augmentation.normalization),
        train_crop_size=crop,
        val_crop_size=val_crop,
        val_resize_size=config.val_resize_size or augmentation.eval_resize_size(val_crop),
        batch_size=hp.global_batch_size,
        learning_rate=hp.learning_rate,
        momentum=hp.momentum,
        weight_decay=hp.weight_decay,
        epochs=hp.epochs,
        steps_per_epoch=spe,
        lr_warmup_epochs=hp.warmup_steps / spe,
        lr_warmup_method=hp.warmup,
        lr_boundaries=tuple(b / spe for b in hp.boundaries) if hp.boundaries else None,
        output_dir=config.run_dir,
        checkpoint_dir=config.checkpoints,
    )
    derived = Derived(
        family=entry.family,
        classes=source.num_classes,
        input_shape=input_shape(entry, crop, val_crop),
        train_split=source.train_split,
        eval_split=source.eval_split,
        train_examples=train_examples,
        eval_examples=source.sizes.get(source.eval_split),
        replicas=replicas,
        workers=workers,
        per_replica_batch_size=per_replica_batch_size(hp.global_batch_size, replicas),
        schedule=hp.schedule_name,
        warmup_steps=hp.warmup_steps,
        boundary_steps=hp.boundaries,
        total_steps=hp.total_steps,
    )
    return Resolved(options, derived, hp)
