"""The controller: owns the epoch loop, the checkpoint cadence and the NaN stop.

Shaped like Model Garden's `Controller` and torchvision's reference `train_one_epoch`: it calls
the trainer's step functions, evaluates after each epoch (and the EMA weights beside them),
saves checkpoints, and hands one record per epoch to every reporter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from keras_classics.training.checkpoints import Checkpoints, Progress
from keras_classics.training.loop import Trainer
from keras_classics.training.reporters import Console, Record, Reporter
from keras_classics.training.schedules import PlateauSchedule


class DivergedError(RuntimeError):
    """The loss became NaN or infinite; the newest checkpoint is the last good state."""


def _next_boundary(done: int, every: int) -> int:
    """Steps from `done` to the next multiple of `every` (a large number when every is 0)."""
    return every - done % every if every else 1 << 62


@dataclass
class Timing:
    """Images and seconds of this process's timed calls (the first call traces: untimed)."""

    calls: int = 0
    images: int = 0
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float | None:
        return self.images / self.seconds if self.seconds else None


@dataclass
class Cadence:
    """How often the controller stops the compiled loop: the options it needs."""

    epochs: int
    steps_per_epoch: int
    global_batch_size: int
    steps_per_execution: int = 1
    checkpoint_every: int = 0
    log_every: int = 0


@dataclass
class Controller:
    """Runs epochs `progress.epoch + 1 ... cadence.epochs` of `trainer`."""

    trainer: Trainer
    checkpoints: Checkpoints
    cadence: Cadence
    train_data: Callable[[int], Any]  # seed -> distributed training dataset
    eval_data: Any
    console: Console
    reporters: Sequence[Reporter] = ()
    schedule: Any = None
    timing: Timing = field(default_factory=Timing)

    def evaluate(self) -> dict[str, Any]:
        """Validation results of the weights (and, with EMA, `ema_*` of the averages)."""
        self.trainer.average_non_trainable()
        results = self.trainer.evaluate(self.eval_data)
        if self.trainer.has_ema:
            with self.trainer.ema_weights():
                ema = self.trainer.evaluate(self.eval_data)
            results.update({f"ema_{k}": v for k, v in ema.items() if k != "examples"})
        return results

    def run(self, progress: Progress, history: list[Record]) -> dict[str, Any]:
        """Trains the remaining epochs; returns the last evaluation."""
        cadence, trainer = self.cadence, self.trainer
        spe, batch = cadence.steps_per_epoch, cadence.global_batch_size
        # A resumed run draws a fresh shuffle rather than replaying the first batches.
        iterator = iter(self.train_data(progress.global_step(spe)))
        self.console.message(
            "tracing the training step (the first call compiles it: seconds to a minute)"
        )
        results: dict[str, Any] = {}
        for epoch in range(progress.epoch, cadence.epochs):
            trainer.train_totals.reset()
            step = progress.step if epoch == progress.epoch else 0
            lr_start = trainer.learning_rate(epoch * spe + step)
            epoch_started, timed = time.perf_counter(), Timing()
            while step < spe:
                done = epoch * spe + step
                count = min(
                    cadence.steps_per_execution,
                    spe - step,
                    _next_boundary(done, cadence.checkpoint_every),
                    _next_boundary(step, cadence.log_every),
                )
                call_started = time.perf_counter()
                trainer.train_steps(iterator, count)
                nonfinite = trainer.nonfinite_steps()  # every worker reads (a collective)
                if self.timing.calls:
                    timed.images += count * batch
                    timed.seconds += time.perf_counter() - call_started
                self.timing.calls += 1
                step += count
                if nonfinite:
                    self._diverged(epoch, step, history)
                self.console.on_steps(epoch, step)
                if cadence.log_every and step % cadence.log_every == 0 and step < spe:
                    totals = trainer.train_totals.read()  # a collective: every worker
                    self.console.message(
                        f"epoch {epoch + 1}/{cadence.epochs} step {step}/{spe}: loss "
                        f"{totals['loss']:.4f} accuracy {totals['accuracy']:.4f} lr "
                        f"{trainer.learning_rate(done + count - 1):.4g}"
                    )
                every = cadence.checkpoint_every
                if every and (done + count) % every == 0 and step < spe:
                    trainer.average_non_trainable()
                    path = self.checkpoints.save(Progress(epoch, step), done + count)
                    if path:
                        self.console.message(f"checkpoint {path} (epoch {epoch + 1}, step {step})")
            train_results = trainer.train_totals.read()
            lr_end = trainer.learning_rate((epoch + 1) * spe - 1)
            results = self.evaluate()
            reduced = False
            if isinstance(self.schedule, PlateauSchedule):  # watch the validation error
                reduced = self.schedule.update(1.0 - results["accuracy"])
            self.timing.images += timed.images
            self.timing.seconds += timed.seconds
            record = {
                "epoch": epoch + 1,
                "loss": train_results["loss"],
                "accuracy": train_results["accuracy"],
                "val_loss": results["loss"],
                "val_accuracy": results["accuracy"],
                "val_top5_accuracy": results["top5_accuracy"],
                "ema_val_loss": results.get("ema_loss"),
                "ema_val_accuracy": results.get("ema_accuracy"),
                "learning_rate": lr_start,
                "learning_rate_end": lr_end,
                "lr_reduced": reduced,
                "weight_decay_loss": trainer.regularization_loss(),
                "images_per_second": timed.images_per_second,
                "epoch_seconds": time.perf_counter() - epoch_started,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            history.append(record)
            # The history first, then the checkpoint that covers it: a run killed between the
            # two resumes from the previous checkpoint, drops this row and trains the epoch again.
            for reporter in (self.console, *self.reporters):
                reporter.on_epoch(record, history)
            path = self.checkpoints.save(Progress(epoch + 1, 0), (epoch + 1) * spe)
            if path:
                self.console.message(f"checkpoint {path}")
        self.end(history)
        return results

    def end(self, history: Sequence[Record]) -> None:
        for reporter in (self.console, *self.reporters):
            reporter.on_end(history)

    def _diverged(self, epoch: int, step: int, history: list[Record]) -> None:
        latest = self.checkpoints.latest()
        self.end(history)
        raise DivergedError(
            f"the loss became NaN or infinite in epoch {epoch + 1} (by step {step}); stopped "
            f"without saving. The last good checkpoint is {latest or 'none (none was saved)'}: "
            "lower the learning rate (or use --precision float16 loss scaling) and run again"
        )
