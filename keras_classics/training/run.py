"""The training job `scripts/train.py` runs: data, model, recipe, loop, checkpoints, reports.

`train(config)` trains (resuming from the newest checkpoint), evaluates after every epoch and
writes the reports; with `config.evaluate` it only evaluates a saved model (`evaluate.py`).
Every worker of a cluster runs the same code; only the chief prints progress and writes files.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_classics.training import recipes, reports
from keras_classics.training.checkpoints import Checkpoints, Progress, remove_checkpoints
from keras_classics.training.config import RunConfig
from keras_classics.training.evaluate import evaluate_saved
from keras_classics.training.loop import Trainer, per_replica_batch_size
from keras_classics.training.regularization import add_weight_decay
from keras_classics.training.schedules import PlateauSchedule
from keras_classics.training.setup import Setup
from keras_classics.training.strategies import describe

MODEL_FILE = "model.keras"


class DivergedError(RuntimeError):
    """The loss became NaN or infinite; the newest checkpoint is the last good state."""


def weights_digest(model: keras.Model) -> str:
    """A short SHA-256 of all the model's weights (to compare replicas and workers)."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def _next_boundary(done: int, every: int) -> int:
    """Steps from `done` to the next multiple of `every` (a large number when every is 0)."""
    return every - done % every if every else 1 << 62


class Run(Setup):
    """Training: the recipe, the loop over epochs, checkpoints and reports."""

    # --- training ------------------------------------------------------------------------
    def hyperparameters(self) -> recipes.Hyperparameters:
        config = self.config
        return recipes.resolve(
            self.entry.family,
            model_name=self.entry.name,
            recipe=config.recipe,
            dataset=self.source.name,
            train_examples=self.source.sizes[self.source.train_split],
            global_batch_size=config.batch_size,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            momentum=config.momentum,
            nesterov=config.nesterov,
            label_smoothing=config.label_smoothing,
            warmup_epochs=config.warmup_epochs,
            boundaries_epochs=config.lr_boundaries,
            patience=config.patience,
        )

    def train(self) -> dict[str, Any]:
        """Trains from the newest checkpoint to the last epoch; returns the summary."""
        config = self.config
        hp = self.hyperparameters()
        batch = hp.global_batch_size
        per_replica = per_replica_batch_size(batch, self.replicas)
        self.log(f"global batch {batch} = {self.replicas} replica(s) x {per_replica} per replica")
        self.log(hp.describe())
        if not config.resume:
            remove_checkpoints(config.checkpoints, self.task)
        with self.strategy.scope():
            model = self.build_model()
            decayed = add_weight_decay(model, hp.weight_decay)
            schedule = hp.make_schedule()
            optimizer = keras.optimizers.SGD(
                learning_rate=schedule, momentum=hp.momentum, nesterov=hp.nesterov
            )
            if config.precision == "float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            trainer = Trainer(
                self.strategy,
                model,
                optimizer,
                global_batch_size=batch,
                label_smoothing=hp.label_smoothing,
                jit_compile=config.jit_compile,
            )
            checkpoints = Checkpoints(
                config.checkpoints,
                self.task,
                model=model,
                optimizer=optimizer,
                extra=schedule.state,
                max_to_keep=config.keep_checkpoints,
            )
        self.log(
            f"model {self.entry.name}: {model.count_params():,} parameters; weight decay on "
            f"{len(decayed)} kernels; precision {config.precision}, jit_compile "
            f"{config.jit_compile}, steps_per_execution {config.steps_per_execution}"
        )
        progress, restored = checkpoints.restore() if config.resume else (Progress(), None)
        if restored:
            self.log(
                f"resumed from {restored}: {progress.epoch} epoch(s) done, "
                f"{progress.step} step(s) into epoch {progress.epoch + 1}"
            )
        history = [r for r in reports.read_history(self.run_dir) if r["epoch"] <= progress.epoch]
        tensorboard = reports.TensorBoardLog(
            self.run_dir / reports.TENSORBOARD_DIR if self.task.is_chief else None
        )
        state = _LoopState(progress, history)
        if progress.epoch < hp.epochs:
            final = self._epochs(hp, trainer, checkpoints, schedule, tensorboard, state)
        else:
            self.log(f"already trained {progress.epoch} of {hp.epochs} epochs")
            trainer.average_non_trainable()
            final = trainer.evaluate(
                self.distributed(
                    self.source.eval_split,
                    training=False,
                    global_batch_size=batch,
                    seed=config.seed,
                )
            )
        return self._finish(model, hp, trainer, checkpoints, state, final, restored)

    def _epochs(
        self,
        hp: recipes.Hyperparameters,
        trainer: Trainer,
        checkpoints: Checkpoints,
        schedule: Any,
        tensorboard: reports.TensorBoardLog,
        state: _LoopState,
    ) -> dict[str, float]:
        """Trains the remaining epochs; returns the last evaluation."""
        config = self.config
        spe, batch = hp.steps_per_epoch, hp.global_batch_size
        start = state.progress
        # A resumed run draws a fresh shuffle rather than replaying the first batches.
        iterator = iter(
            self.distributed(
                self.source.train_split,
                training=True,
                global_batch_size=batch,
                seed=config.seed + start.global_step(spe),
            )
        )
        eval_data = self.distributed(
            self.source.eval_split, training=False, global_batch_size=batch, seed=config.seed
        )
        for epoch in range(start.epoch, hp.epochs):
            trainer.train_totals.reset()
            step = start.step if epoch == start.epoch else 0
            epoch_started, timed_steps, timed_seconds = time.perf_counter(), 0, 0.0
            while step < spe:
                done = epoch * spe + step
                count = min(
                    config.steps_per_execution,
                    spe - step,
                    _next_boundary(done, config.checkpoint_every),
                    _next_boundary(step, config.log_every),
                )
                call_started = time.perf_counter()
                trainer.train_steps(iterator, count)
                nonfinite = trainer.nonfinite_steps()  # every worker reads (a collective)
                if state.calls:  # the first call of a process includes tracing
                    timed_steps += count
                    timed_seconds += time.perf_counter() - call_started
                state.calls += 1
                step += count
                if nonfinite:
                    self._diverged(epoch, step, checkpoints, state)
                if config.log_every and step % config.log_every == 0 and step < spe:
                    results = trainer.train_totals.read()
                    self.log(
                        f"epoch {epoch + 1}/{hp.epochs} step {step}/{spe}: loss "
                        f"{results['loss']:.4f} accuracy {results['accuracy']:.4f} lr "
                        f"{trainer.learning_rate():.4g}"
                    )
                if (
                    config.checkpoint_every
                    and (done + count) % config.checkpoint_every == 0
                    and step < spe
                ):
                    trainer.average_non_trainable()
                    path = checkpoints.save(Progress(epoch, step), done + count)
                    if path:
                        self.log(f"checkpoint {path} (epoch {epoch + 1}, step {step})")
            train_results = trainer.train_totals.read()
            trainer.average_non_trainable()
            eval_results = trainer.evaluate(eval_data)
            seconds = time.perf_counter() - epoch_started
            state.timed_images += timed_steps * batch
            state.timed_seconds += timed_seconds
            reduced = False
            if isinstance(schedule, PlateauSchedule):  # watch the validation error
                reduced = schedule.update(1.0 - eval_results["accuracy"])
            row = {
                "epoch": epoch + 1,
                "loss": train_results["loss"],
                "accuracy": train_results["accuracy"],
                "val_loss": eval_results["loss"],
                "val_accuracy": eval_results["accuracy"],
                "val_top5_accuracy": eval_results["top5_accuracy"],
                "learning_rate": trainer.learning_rate(),
                "weight_decay_loss": trainer.regularization_loss(),
                "images_per_second": timed_steps * batch / timed_seconds if timed_seconds else None,
                "epoch_seconds": seconds,
            }
            state.history.append(row)
            path = checkpoints.save(Progress(epoch + 1, 0), (epoch + 1) * spe)
            self._epoch_reports(row, hp, tensorboard, state, path, reduced)
        return eval_results

    def _epoch_reports(
        self,
        row: dict[str, Any],
        hp: recipes.Hyperparameters,
        tensorboard: reports.TensorBoardLog,
        state: _LoopState,
        checkpoint: str | None,
        reduced: bool,
    ) -> None:
        speed = row["images_per_second"]
        self.log(
            f"epoch {row['epoch']}/{hp.epochs}: loss {row['loss']:.4f} accuracy "
            f"{row['accuracy']:.4f} | val_loss {row['val_loss']:.4f} val_accuracy "
            f"{row['val_accuracy']:.4f} | lr {row['learning_rate']:.4g} | "
            f"{'' if speed is None else f'{speed:.1f} images/s, '}{row['epoch_seconds']:.1f} s"
            + (" | plateau: learning rate divided" if reduced else "")
        )
        if not self.task.is_chief:
            return
        step = row["epoch"] * hp.steps_per_epoch
        tensorboard.scalars(
            "train",
            {
                k: row[k]
                for k in (
                    "loss",
                    "accuracy",
                    "learning_rate",
                    "weight_decay_loss",
                    "images_per_second",
                )
            },
            step,
        )
        tensorboard.scalars(
            "validation",
            {
                "loss": row["val_loss"],
                "accuracy": row["val_accuracy"],
                "top5_accuracy": row["val_top5_accuracy"],
            },
            step,
        )
        reports.write_history(state.history, self.run_dir)
        self.log(f"checkpoint {checkpoint}")

    def _title(self) -> str:
        return f"{self.entry.name} on {self.source.name}"

    def _diverged(self, epoch: int, step: int, checkpoints: Checkpoints, state: _LoopState) -> None:
        latest = checkpoints.latest()
        message = (
            f"the loss became NaN or infinite in epoch {epoch + 1} (by step {step}); stopped "
            f"without saving. The last good checkpoint is {latest or 'none (none was saved)'}: "
            "lower the learning rate (or use --precision float16 loss scaling) and run again"
        )
        if self.task.is_chief and state.history:
            reports.write_history(state.history, self.run_dir)
            reports.plot_history(state.history, self.run_dir / reports.PLOT_PNG, self._title())
        raise DivergedError(message)

    def _finish(
        self,
        model: keras.Model,
        hp: recipes.Hyperparameters,
        trainer: Trainer,
        checkpoints: Checkpoints,
        state: _LoopState,
        final: dict[str, float],
        restored: str | None,
    ) -> dict[str, Any]:
        config = self.config
        digest = weights_digest(model)
        print(f"weights digest ({self.task.name}): {digest}", flush=True)
        summary = {
            "model": self.entry.name,
            "model_options": {k: repr(v) for k, v in config.model_options.items()},
            "family": self.entry.family,
            "parameters": int(model.count_params()),
            "trainable_parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
            "dataset": self.source.name,
            "classes": self.source.num_classes,
            "train_examples": self.source.sizes[self.source.train_split],
            "eval_split": self.source.eval_split,
            "eval_examples": final["examples"],
            "image_size": self.image_size,
            "augmentation": self.augmentation.name,
            "normalization": self.normalization,
            "strategy": describe(self.strategy),
            "replicas": self.replicas,
            "workers": self.task.num_workers,
            "global_batch_size": hp.global_batch_size,
            "per_replica_batch_size": trainer.per_replica_batch_size,
            "recipe": hp.recipe,
            "schedule": hp.make_schedule().describe(),
            "learning_rate": hp.learning_rate,
            "weight_decay": hp.weight_decay,
            "label_smoothing": hp.label_smoothing,
            "precision": config.precision,
            "jit_compile": config.jit_compile,
            "steps_per_execution": config.steps_per_execution,
            "epochs": hp.epochs,
            "epochs_completed": len(state.history),
            "steps_per_epoch": hp.steps_per_epoch,
            "accuracy": final["accuracy"],
            "top5_accuracy": final["top5_accuracy"],
            "loss": final["loss"],
            "train_accuracy": state.history[-1]["accuracy"] if state.history else None,
            "images_per_second": (
                state.timed_images / state.timed_seconds if state.timed_seconds else None
            ),
            "train_seconds": sum(r["epoch_seconds"] for r in state.history),
            "wall_time_seconds": time.perf_counter() - self.started,
            "resumed_from": restored,
            "checkpoint": checkpoints.latest(),
            "weights_digest": digest,
            "config": config_summary(config),
        }
        self.log(
            f"test accuracy {final['accuracy']:.4f} (top-5 {final['top5_accuracy']:.4f}, loss "
            f"{final['loss']:.4f}) on {final['examples']} {self.source.eval_split} images of "
            f"{self.source.name}"
        )
        if self.task.is_chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            reports.write_history(state.history, self.run_dir)
            if state.history:
                reports.plot_history(state.history, self.run_dir / reports.PLOT_PNG, self._title())
            model.save(self.run_dir / MODEL_FILE)
            if config.export_dir:
                summary["export"] = str(self.export(model))
                self.log(f"exported to {summary['export']}")
            reports.write_json(summary, self.run_dir / reports.SUMMARY_JSON)
            self.log(
                f"reports in {self.run_dir}: {reports.SUMMARY_JSON}, {reports.HISTORY_CSV}, "
                f"{reports.HISTORY_JSON}, {reports.PLOT_PNG}, {reports.TENSORBOARD_DIR}/, "
                f"{MODEL_FILE}"
            )
        return summary

    def export(self, model: keras.Model) -> Path:
        """Exports for TF Serving (the chief), with this run's classes and preprocessing."""
        from keras_classics.export import export_saved_model

        return export_saved_model(
            model,
            self.config.export_dir,
            class_names=self.source.class_names,
            normalization=self.normalization,
            image_size=self.image_size,
            resize_size=self.augmentation.eval_resize_size(self.image_size),
        )


class _LoopState:
    """Progress, history and timing of the epochs this process ran."""

    def __init__(self, progress: Progress, history: list[dict[str, Any]]) -> None:
        self.progress = progress
        self.history = history
        self.calls = 0
        self.timed_images = 0
        self.timed_seconds = 0.0


def train(config: RunConfig) -> dict[str, Any]:
    """Runs training as `config` says (evaluation only with `config.evaluate`)."""
    if config.evaluate:
        return evaluate_saved(Setup(config))
    return Run(config).train()


def config_summary(config: RunConfig) -> dict[str, Any]:
    """The config as plain JSON-able values."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
