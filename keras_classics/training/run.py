"""The training job `scripts/train.py` runs: set up, build, resume, control, report.

`train(config)` resolves the configuration once (`Setup`), builds the model, optimizer and
trainer, resumes from a checkpoint, lets the `Controller` run the epochs with the reporters,
and writes the summary, the model and the evaluation report; with `config.evaluate` or
`config.test_only` it only evaluates (`evaluate.py`). Every worker of a cluster runs the same
code; only the chief prints progress and writes files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any

import keras
import numpy as np

from keras_classics.durable import atomic_path, fault_point
from keras_classics.models.record import attach_record
from keras_classics.normalization import PreprocessingRecord
from keras_classics.training import reports
from keras_classics.training.checkpoints import Checkpoints, Progress, remove_checkpoints
from keras_classics.training.config import RESUME_AUTO, RESUME_NONE, RunConfig
from keras_classics.training.controller import Cadence, Controller, DivergedError
from keras_classics.training.evaluate import evaluate_saved, write_evaluation
from keras_classics.training.loop import Trainer
from keras_classics.training.regularization import add_weight_decay
from keras_classics.training.reporters import Console, HistoryFiles, Plot, Reporter, TensorBoard
from keras_classics.training.resolved import CONFIG_JSON
from keras_classics.training.setup import Setup
from keras_classics.training.strategies import describe

MODEL_FILE = "model.keras"
EMA_MODEL_FILE = "model_ema.keras"

__all__ = ["MODEL_FILE", "DivergedError", "train"]


def weights_digest(model: keras.Model) -> str:
    """A short SHA-256 of all the model's weights (to compare replicas and workers)."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Trainable and non-trainable parameters (BN moving statistics are non-trainable)."""
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    return {"trainable": trainable, "non_trainable": int(model.count_params()) - trainable}


def build_trainer(setup: Setup) -> tuple[Trainer, Checkpoints, Any, list[str]]:
    """Model, the recipe's optimizer (schedule, EMA, loss scaling), trainer, checkpoints."""
    config, hp = setup.config, setup.run.hyperparameters
    with setup.strategy.scope():
        model = setup.build_model()
        decayed = add_weight_decay(model, hp.weight_decay)
        schedule = hp.make_schedule()
        ema = {"use_ema": True, "ema_momentum": config.model_ema} if config.model_ema else {}
        optimizer = hp.make_optimizer(schedule, **ema)
        if config.precision == "float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        trainer = Trainer(
            setup.strategy,
            model,
            optimizer,
            global_batch_size=config.batch_size,
            label_smoothing=hp.label_smoothing,
            jit_compile=config.jit_compile,
            clip_grad_norm=config.clip_grad_norm,
        )
        checkpoints = Checkpoints(
            config.checkpoint_dir,
            setup.task,
            model=model,
            optimizer=optimizer,
            extra=schedule.state,
            max_to_keep=config.keep_checkpoints,
        )
    return trainer, checkpoints, schedule, decayed


# Options whose change makes a resumed run another experiment (refused without
# --resume-changed): the model, the data it learns from, the batch and the optimisation.
BLOCKING_GROUPS = ("model", "optimisation")
BLOCKING_OPTIONS = ("dataset", "train_crop_size", "batch_size")


def blocking_changes(setup: Setup, stored: dict[str, Any]) -> list[str]:
    """The changed options (`name: old -> new`) that make a resume another experiment."""
    groups = {f.name: f.metadata["group"] for f in dataclasses.fields(RunConfig)}
    return [
        change
        for change in setup.run.changes_from(stored)
        if groups.get(name := change.partition(":")[0]) in BLOCKING_GROUPS
        or name in BLOCKING_OPTIONS
    ]


def _resume(setup: Setup, checkpoints: Checkpoints) -> tuple[Progress, str | None]:
    """Restores as `--resume` says; a resume with other settings is refused (listed)."""
    resume = setup.config.resume
    if resume == RESUME_NONE:
        return Progress(), None
    progress, restored = checkpoints.restore(
        None if resume == RESUME_AUTO else resume, log=setup.log
    )
    stored = setup.run_dir / CONFIG_JSON
    if restored and stored.is_file():
        stored_json = json.loads(stored.read_text())
        blocking = blocking_changes(setup, stored_json)
        if blocking and not setup.config.resume_changed:
            raise ValueError(
                f"{setup.run_dir} holds a run with other settings: {'; '.join(blocking)}. "
                "Use another --output-dir, --resume none to start over, or --resume-changed "
                "to continue it anyway"
            )
        changes = setup.run.changes_from(stored_json)
        if changes:
            setup.log(f"resuming with changed options: {'; '.join(changes)}")
    if restored:
        setup.log(
            f"resumed from {restored}: {progress.epoch} epoch(s) done, "
            f"{progress.step} step(s) into epoch {progress.epoch + 1}"
        )
    return progress, restored


def train(config: RunConfig) -> dict[str, Any]:
    """Runs training as `config` says (evaluation only with `evaluate` or `test_only`)."""
    setup = Setup(config)
    setup.log(setup.run.describe())
    if setup.config.evaluate or setup.config.test_only:
        return evaluate_saved(setup)
    config, derived = setup.config, setup.run.derived
    if config.resume == RESUME_NONE:
        remove_checkpoints(config.checkpoint_dir, setup.task)
    setup.log("\n".join(setup.run.hyperparameters.notes))
    setup.log(f"building {setup.entry.name}")
    trainer, checkpoints, schedule, decayed = build_trainer(setup)
    counts = parameter_counts(trainer.model)
    setup.log(
        f"model {setup.entry.name}: {counts['trainable']:,} trainable + "
        f"{counts['non_trainable']:,} non-trainable parameters; weight decay on "
        f"{len(decayed)} kernels; precision {config.precision}; schedule {schedule.describe()}"
    )
    progress, restored = _resume(setup, checkpoints)
    if setup.task.is_chief:
        reports.write_json(setup.run.to_json(), setup.run_dir / CONFIG_JSON)
    history = [r for r in reports.read_history(setup.run_dir) if r["epoch"] <= progress.epoch]
    console = Console(
        setup.log,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        global_batch_size=config.batch_size,
        interval=config.progress_seconds,
        active=setup.task.is_chief,
    )
    reporters: list[Reporter] = []
    if setup.task.is_chief:
        reporters = [
            HistoryFiles(setup.run_dir),
            TensorBoard(
                setup.run_dir / reports.TENSORBOARD_DIR, config.steps_per_epoch, progress.epoch
            ),
            Plot(setup.run_dir / reports.PLOT_PNG, f"{setup.entry.name} on {setup.source.name}"),
        ]
    controller = Controller(
        trainer,
        checkpoints,
        Cadence(
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            global_batch_size=config.batch_size,
            steps_per_execution=config.steps_per_execution,
            checkpoint_every=config.checkpoint_every,
            log_every=config.log_every,
        ),
        train_data=lambda seed: setup.distributed(
            derived.train_split, training=True, seed=config.seed + seed
        ),
        eval_data=setup.eval_data(),
        console=console,
        reporters=reporters,
        schedule=schedule,
    )
    if progress.epoch < config.epochs:
        final = controller.run(progress, history)
    else:
        setup.log(f"already trained {progress.epoch} of {config.epochs} epochs")
        final = controller.evaluate()
    return _finish(setup, controller, history, final, restored, counts)


def _finish(
    setup: Setup,
    controller: Controller,
    history: list[dict[str, Any]],
    final: dict[str, Any],
    restored: str | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    config, trainer = setup.config, controller.trainer
    model = trainer.model
    digest = weights_digest(model)
    print(f"weights digest ({setup.task.name}): {digest}", flush=True)
    summary = {
        "model": setup.entry.name,
        "parameters": counts["trainable"] + counts["non_trainable"],
        "trainable_parameters": counts["trainable"],
        "non_trainable_parameters": counts["non_trainable"],
        "dataset": setup.source.name,
        "strategy": describe(trainer.strategy),
        "eval_examples": final["examples"],
        "accuracy": final["accuracy"],
        "top5_accuracy": final["top5_accuracy"],
        "loss": final["loss"],
        "ema_accuracy": final.get("ema_accuracy"),
        "epochs_completed": len(history),
        "train_accuracy": history[-1]["accuracy"] if history else None,
        "images_per_second": controller.timing.images_per_second,
        "train_seconds": sum(r["epoch_seconds"] for r in history),
        "wall_time_seconds": time.perf_counter() - setup.started,
        "resumed_from": restored,
        "checkpoint": controller.checkpoints.latest(),
        "weights_digest": digest,
        "config": setup.run.to_json(),
    }
    setup.log(
        f"test accuracy {final['accuracy']:.4f} (top-5 {final['top5_accuracy']:.4f}, loss "
        f"{final['loss']:.4f}) on {final['examples']} {setup.source.eval_split} images of "
        f"{setup.source.name}"
        + (f"; EMA weights {final['ema_accuracy']:.4f}" if "ema_accuracy" in final else "")
    )
    if setup.task.is_chief:
        model = attach_record(model, run_record(setup))  # the same weights, EMA included
        save_model(model, setup.run_dir / MODEL_FILE)
        if trainer.has_ema:
            with trainer.ema_weights():
                save_model(model, setup.run_dir / EMA_MODEL_FILE)
        if config.export_dir:
            summary["export"] = str(export(setup, model))
            setup.log(f"exported to {summary['export']}")
        summary["per_class_accuracy"] = write_evaluation(setup, final)
        reports.write_json(summary, setup.run_dir / reports.SUMMARY_JSON)
        setup.log(
            f"reports in {setup.run_dir}: {CONFIG_JSON}, {reports.SUMMARY_JSON}, "
            f"{reports.HISTORY_CSV}, {reports.HISTORY_JSON}, {reports.PLOT_PNG}, "
            f"{reports.CONFUSION_CSV}, {reports.PER_CLASS_CSV}, {reports.CONFUSION_PNG}, "
            f"{reports.TENSORBOARD_DIR}/, {MODEL_FILE}"
        )
    return summary


def save_model(model: keras.Model, path: Any) -> None:
    """`model.save` through a temporary file and a rename: never half a `.keras` file."""
    with atomic_path(path) as temporary:
        model.save(temporary)
    fault_point("model")


def run_record(setup: Setup) -> PreprocessingRecord:
    """The run's evaluation view and its dataset's class names, saved with its models."""
    config = setup.config
    return PreprocessingRecord.from_eval_view(
        normalization=config.normalization,
        image_size=config.val_crop_size,
        resize_size=config.val_resize_size,
        class_names=setup.source.class_names,
        source=config.output_dir,
    )


def export(setup: Setup, model: keras.Model) -> Any:
    """Exports for TF Serving (the chief), with the preprocessing record the model carries."""
    from keras_classics.export import export_saved_model

    return export_saved_model(model, setup.config.export_dir)
