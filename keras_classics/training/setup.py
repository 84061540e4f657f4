"""What every process of a run sets up first: strategy, cluster role, data, model.

Training (`run.py`) and evaluation only (`evaluate.py`) both start from a `Setup`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_classics import data
from keras_classics.registry import get_entry
from keras_classics.training.config import PRECISIONS, RunConfig
from keras_classics.training.strategies import describe, make_strategy, split_cpu, task_of
from keras_classics.training.synthetic import NAME as SYNTHETIC
from keras_classics.training.synthetic import synthetic_source


class Setup:
    """One process's share of a run: its strategy, cluster role, data and model builder."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.started = time.perf_counter()
        if config.cpu_devices:
            split_cpu(config.cpu_devices)  # before anything initialises TensorFlow's devices
        self.strategy = make_strategy(config.strategy, config.devices or None, config.tpu)
        self.task = task_of(self.strategy)
        self.entry = get_entry(config.model)
        self.replicas = self.strategy.num_replicas_in_sync
        keras.utils.set_random_seed(config.seed)
        keras.config.set_dtype_policy(PRECISIONS[config.precision])
        self.augmentation = data.get_recipe(
            config.augmentation or data.DEFAULT_RECIPE_BY_FAMILY[self.entry.family]
        )
        self.image_size = config.image_size or self.entry.input_size
        self.normalization = config.normalization or self.augmentation.normalization
        self.source = self._load_source()
        self.log(f"strategy: {describe(self.strategy)}; this process is {self.task.name}")
        self.log(
            f"data: {self.source.describe()}; augmentation {self.augmentation.name}, "
            f"{self.image_size}x{self.image_size}, normalization {self.normalization}"
        )

    # --- output ------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """Prints on the chief only."""
        if self.task.is_chief:
            print(message, flush=True)

    @property
    def run_dir(self) -> Path:
        return Path(self.config.run_dir)

    # --- data ----------------------------------------------------------------------------
    def _load_source(self) -> data.DataSource:
        config = self.config
        if config.dataset == SYNTHETIC:
            return synthetic_source(self.image_size, seed=config.seed)
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

    def distributed(self, split: str, *, training: bool, global_batch_size: int, seed: int) -> Any:
        """`split` as a distributed dataset: each worker reads its shard, each replica gets
        its per-replica batch; training streams repeat without end."""
        config = self.config

        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            dataset = data.make_dataset(
                self.source,
                split,
                recipe=self.augmentation,
                batch_size=context.get_per_replica_batch_size(global_batch_size),
                training=training,
                image_size=self.image_size,
                normalization=self.normalization,
                input_context=context,
                seed=seed,
                cache=config.cache,
                deterministic=config.deterministic,
            )
            return dataset.repeat() if training else dataset

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    # --- model ---------------------------------------------------------------------------
    def build_model(self) -> keras.Model:
        """The registered model for this dataset's classes and image size (in scope)."""
        options = dict(self.config.model_options)
        classes = options.setdefault("classes", self.source.num_classes)
        if classes != self.source.num_classes:
            raise ValueError(
                f"model option classes={classes} but {self.source.name} has "
                f"{self.source.num_classes} classes"
            )
        if self.image_size != self.entry.input_size:
            options.setdefault("input_shape", (self.image_size, self.image_size, 3))
        return self.entry.build(**options)
