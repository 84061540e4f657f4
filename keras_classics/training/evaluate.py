"""Evaluation only (`scripts/train.py --evaluate SAVED`): a saved model on the evaluation split."""

from __future__ import annotations

import os
import time
from typing import Any

import keras
import tensorflow as tf

from keras_classics.training import recipes, reports
from keras_classics.training.loop import Trainer, per_replica_batch_size
from keras_classics.training.setup import Setup

EVALUATION_JSON = "evaluation.json"


def load_saved(setup: Setup, path: str) -> keras.Model:
    """A model from a `.keras` file, a `.weights.h5` file (of `--model`) or a checkpoint
    (a directory of this package's checkpoints, or one checkpoint's prefix); call in scope."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    if path.endswith(".weights.h5"):
        model = setup.build_model()
        model.load_weights(path)
        return model
    prefix = tf.train.latest_checkpoint(path) if os.path.isdir(path) else path
    if prefix is None or not tf.io.gfile.exists(f"{prefix}.index"):
        raise ValueError(
            f"--evaluate {path!r}: not a .keras file, a .weights.h5 file or a checkpoint "
            "(directory or prefix); choose one of those"
        )
    model = setup.build_model()
    tf.train.Checkpoint(model=model).restore(prefix).expect_partial()
    return model


def evaluate_saved(setup: Setup) -> dict[str, Any]:
    """Evaluates `config.evaluate` on the evaluation split; returns (and writes) the results."""
    config = setup.config
    batch = config.batch_size or recipes.paper_recipe(setup.entry.family).batch_size
    per_replica_batch_size(batch, setup.replicas)
    with setup.strategy.scope():
        model = load_saved(setup, config.evaluate)
        trainer = Trainer(setup.strategy, model, None, global_batch_size=batch)
    results = trainer.evaluate(
        setup.distributed(
            setup.source.eval_split, training=False, global_batch_size=batch, seed=config.seed
        )
    )
    results = {
        "model": config.evaluate,
        "dataset": setup.source.name,
        "split": setup.source.eval_split,
        **results,
        "wall_time_seconds": time.perf_counter() - setup.started,
    }
    setup.log(
        f"evaluation of {config.evaluate} on {results['examples']} {setup.source.eval_split} "
        f"images of {setup.source.name}: accuracy {results['accuracy']:.4f}, top-5 "
        f"{results['top5_accuracy']:.4f}, loss {results['loss']:.4f}"
    )
    if setup.task.is_chief:
        reports.write_json(results, setup.run_dir / EVALUATION_JSON)
    return results
