"""Evaluation only (`--evaluate SAVED`, `--test-only`): a saved model on the evaluation split,
with per-class accuracy and the confusion matrix.

SAVED is any of the four artefacts a run leaves: a `.keras` file, a `.weights.h5` file (of
`--model`), a checkpoint (directory or prefix) and an exported SavedModel (a version directory
or the export base, whose newest version is taken).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import keras

from keras_classics.training import reports
from keras_classics.training.checkpoints import find_checkpoint
from keras_classics.training.config import RESUME_AUTO, RESUME_NONE
from keras_classics.training.loop import Trainer
from keras_classics.training.setup import Setup

EVALUATION_JSON = "evaluation.json"
SAVED_MODEL_PB = "saved_model.pb"
# An export's preprocessing (its metadata) -> the option that sets it for the evaluation.
EXPORT_FLAGS = {
    "image_size": "--val-crop-size",
    "resize_size": "--val-resize-size",
    "normalization": "--normalization",
}


def saved_model_version(path: str | os.PathLike) -> Path | None:
    """The SavedModel directory `path` names (itself, or its newest numbered version)."""
    path = Path(path)
    if (path / SAVED_MODEL_PB).is_file():
        return path
    versions = [p for p in path.glob("*") if p.name.isdigit() and (p / SAVED_MODEL_PB).is_file()]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def _saved_model(setup: Setup, directory: Path) -> keras.Model:
    """The export's `serving_default` signature as a Keras model, after checking that the
    export preprocesses as this run's evaluation pipeline does."""
    from keras_classics.export import spec
    from keras_classics.export.serving import read_metadata

    config, metadata = setup.config, read_metadata(directory)
    run = {
        "image_size": config.val_crop_size,
        "resize_size": config.val_resize_size,
        "normalization": config.normalization,
    }
    differ = [name for name, value in run.items() if metadata.get(name) != value]
    if differ:
        raise ValueError(
            f"the export {directory} preprocesses differently from this run's evaluation ("
            + "; ".join(f"{n} {metadata.get(n)} there, {run[n]} here" for n in differ)
            + "): pass "
            + " ".join(f"{EXPORT_FLAGS[n]} {metadata.get(n)}" for n in differ)
        )
    size = config.val_crop_size
    layer = keras.layers.TFSMLayer(os.fspath(directory), call_endpoint=spec.SIGNATURE_IMAGES)
    inputs = keras.Input((size, size, 3), name=spec.INPUT_IMAGES)
    outputs = layer(inputs)[spec.OUTPUT_PROBABILITIES]
    return keras.Model(inputs, outputs, name=directory.parent.name or "saved_model")


def load_saved(setup: Setup, path: str) -> keras.Model:
    """A model from a `.keras` file, a `.weights.h5` file (of `--model`), a checkpoint
    (a directory of this package's checkpoints, or one checkpoint's prefix) or an exported
    SavedModel; call in scope."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    if path.endswith(".weights.h5"):
        model = setup.build_model()
        model.load_weights(path)
        return model
    saved_model = saved_model_version(path) if os.path.isdir(path) else None
    if saved_model is not None:
        return _saved_model(setup, saved_model)
    try:
        prefix = find_checkpoint(path)
    except ValueError:
        raise ValueError(
            f"--evaluate {path!r}: not a .keras file, a .weights.h5 file, a checkpoint "
            "(directory or prefix) or an exported SavedModel; choose one of those"
        ) from None
    import tensorflow as tf

    model = setup.build_model()
    tf.train.Checkpoint(model=model).restore(prefix).expect_partial()
    return model


def evaluation_target(setup: Setup) -> str:
    """What to evaluate: `--evaluate`, else (`--test-only`) `--resume PATH` or the run's
    checkpoints."""
    config = setup.config
    if config.evaluate:
        return config.evaluate
    if config.resume not in (RESUME_AUTO, RESUME_NONE):
        return config.resume
    return config.checkpoint_dir


def write_evaluation(setup: Setup, results: dict[str, Any]) -> dict[str, float]:
    """confusion.csv, per_class.csv and confusion.png in the run directory (chief)."""
    return reports.write_confusion(
        results["confusion"],
        setup.source.class_names,
        setup.run_dir,
        f"{setup.entry.name} on {setup.source.name} ({setup.source.eval_split})",
    )


def evaluate_saved(setup: Setup) -> dict[str, Any]:
    """Evaluates the target on the evaluation split; returns (and writes) the results."""
    target = evaluation_target(setup)
    with setup.strategy.scope():
        model = load_saved(setup, target)
        trainer = Trainer(setup.strategy, model, None, global_batch_size=setup.config.batch_size)
    results = trainer.evaluate(setup.eval_data())
    confusion = results.pop("confusion")
    results = {
        "model": target,
        "dataset": setup.source.name,
        "split": setup.source.eval_split,
        **results,
        "wall_time_seconds": time.perf_counter() - setup.started,
    }
    setup.log(
        f"evaluation of {target} on {results['examples']} {setup.source.eval_split} "
        f"images of {setup.source.name}: accuracy {results['accuracy']:.4f}, top-5 "
        f"{results['top5_accuracy']:.4f}, loss {results['loss']:.4f}"
    )
    if setup.task.is_chief:
        results["per_class_accuracy"] = write_evaluation(setup, {"confusion": confusion})
        reports.write_json(results, setup.run_dir / EVALUATION_JSON)
    return results
