"""What every process of a run sets up first: strategy, cluster role, data, the resolved
configuration, and the model builder.

Training (`run.py`) and evaluation only (`evaluate.py`) both use a `Setup`; it resolves the
configuration once (`resolved.resolve_config`) and everything downstream reads `self.run`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_classics import data
from keras_classics.data.mnist1d import VARIANTS
from keras_classics.data.pipeline import holds_signals
from keras_classics.registry import ModelEntry, get_entry, list_models
from keras_classics.training import finetune
from keras_classics.training.config import PRECISIONS, RunConfig
from keras_classics.training.resolved import Resolved, resolve_config
from keras_classics.training.strategies import describe, make_strategy, split_cpu, task_of
from keras_classics.training.synthetic import NAME as SYNTHETIC
from keras_classics.training.synthetic import synthetic_source


def load_source(config: RunConfig) -> data.DataSource:
    """The dataset `config.dataset` names (or the synthetic one)."""
    if config.dataset == SYNTHETIC:
        return synthetic_source(seed=config.seed)
    try:
        return data.load_source(
            config.dataset,
            data_dir=config.data_dir,
            manual_dir=config.manual_dir,
            download=config.download,
            seed=config.seed,
        )
    except ValueError as error:
        raise ValueError(f"{error} (training also takes {SYNTHETIC!r})") from None


def check_input(entry: ModelEntry, source: data.DataSource) -> None:
    """A clear error where the model takes signals and the data holds images, or vice versa."""
    signals = holds_signals(source.dataset(source.train_split))
    if signals == entry.signals:
        return
    if entry.signals:
        raise ValueError(
            f"model {entry.name!r} takes 1D signals but {source.name} holds images; choose a "
            f"signal dataset: {list(VARIANTS)}"
        )
    models = [name for name in list_models() if get_entry(name).signals]
    raise ValueError(
        f"{source.name} holds 1D signals but model {entry.name!r} takes images; choose a "
        f"signal model: {models}"
    )


class Setup:
    """One process's share of a run: strategy, cluster role, data, resolved configuration."""

    def __init__(self, config: RunConfig) -> None:
        self.started = time.perf_counter()
        if config.cpu_devices:
            split_cpu(config.cpu_devices)  # before anything initialises TensorFlow's devices
        self.strategy = make_strategy(config.strategy, config.devices or None, config.tpu)
        self.task = task_of(self.strategy)
        self.entry = get_entry(config.model)
        self.source = load_source(config)
        check_input(self.entry, self.source)
        self.run: Resolved = resolve_config(
            config,
            entry=self.entry,
            source=self.source,
            replicas=self.strategy.num_replicas_in_sync,
            workers=self.task.num_workers,
        )
        self.config = self.run.options  # every default filled
        keras.utils.set_random_seed(config.seed)
        keras.config.set_dtype_policy(PRECISIONS[config.precision])
        self.log(f"strategy: {describe(self.strategy)}; this process is {self.task.name}")
        self.log(f"data: {self.source.describe()}")

    # --- output ------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """Prints on the chief only, each line with the time of day."""
        if self.task.is_chief:
            print(stamp(message), flush=True)

    @property
    def run_dir(self) -> Path:
        return Path(self.config.output_dir)

    # --- data ----------------------------------------------------------------------------
    def extras(self) -> data.Extras | None:
        """The batch augmentations beyond the paper's recipe that the options ask for."""
        config = self.config
        extras = data.Extras(
            randaugment=config.randaugment,
            mixup=config.mixup_alpha or None,
            cutmix=config.cutmix_alpha or None,
            random_erase=config.random_erase or None,
        )
        return extras if extras != data.Extras() else None

    def distributed(self, split: str, *, training: bool, seed: int) -> Any:
        """`split` as a distributed dataset: each worker reads its shard, each replica gets
        its per-replica batch; training streams repeat without end."""
        config = self.config

        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            dataset = data.make_dataset(
                self.source,
                split,
                recipe=config.augmentation,
                batch_size=context.get_per_replica_batch_size(config.batch_size),
                training=training,
                image_size=config.train_crop_size if training else config.val_crop_size,
                resize_size=config.val_resize_size,
                normalization=config.normalization,
                input_context=context,
                seed=seed,
                cache=config.cache,
                deterministic=config.deterministic,
                extras=self.extras() if training else None,
            )
            return dataset.repeat() if training else dataset

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def eval_data(self) -> Any:
        """The evaluation split, distributed, every example once."""
        return self.distributed(self.source.eval_split, training=False, seed=self.config.seed)

    # --- model ---------------------------------------------------------------------------
    def build_model(self) -> keras.Model:
        """The registered model for this dataset's classes and input shape (in scope); with
        `--weights`, the loaded backbone with a new head, frozen as `--freeze` says."""
        if self.config.weights:
            return self.pretrained_model()
        options = dict(self.config.model_options)
        classes = options.setdefault("classes", self.run.derived.classes)
        if classes != self.run.derived.classes:
            raise ValueError(
                f"model option classes={classes} but {self.source.name} has "
                f"{self.run.derived.classes} classes"
            )
        if self.run.derived.input_shape != self.entry.input_shape:
            options.setdefault("input_shape", self.run.derived.input_shape)
        return self.entry.build(**options)

    def pretrained_model(self) -> keras.Model:
        config = self.config
        model = finetune.pretrained_model(
            self.entry,
            config.weights,
            class_names=self.source.class_names,
            input_shape=self.run.derived.input_shape,
            options={k: v for k, v in config.model_options.items() if k != "classes"},
        )
        self.log(f"loaded {config.weights}; normalization {config.normalization}")
        if config.freeze or config.freeze_until:
            frozen = finetune.freeze(model, config.freeze_until)
            self.log(f"frozen: {len(frozen)} layers, {frozen[1]} .. {frozen[-1]}")
        return model


def stamp(message: str) -> str:
    """`message` with the time of day in front of each line."""
    now = time.strftime("%H:%M:%S")
    return "\n".join(f"{now} {line}" for line in message.splitlines())
