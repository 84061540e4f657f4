"""Reporters: each receives the same epoch record from the controller and reports it one way.

- `Console`: progress lines within an epoch (step, images/s, ETA; a bar rewritten in place on a
  terminal, a line at most every few seconds in a log) and one timestamped line per epoch;
- `HistoryFiles`: history.csv and history.json; `TensorBoard`: scalars; `Plot`: history.png.
Only the chief gets the file reporters. No reporter reads the cross-replica totals itself
(a collective), so they may run on the chief alone.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from keras_classics.durable import fault_point
from keras_classics.training import reports

Record = dict[str, Any]


class Reporter:
    """A run's events; each method does nothing unless a reporter overrides it."""

    def on_steps(self, epoch: int, step: int) -> None:
        """`step` steps of `epoch` (0-based) are done."""

    def on_epoch(self, record: Record, history: Sequence[Record]) -> None:
        """An epoch ended: its record, and the whole history including it."""

    def on_end(self, history: Sequence[Record]) -> None:
        """Training ended (or stopped on a NaN)."""


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Console(Reporter):
    """Progress within the epoch and one line per epoch, on the chief's stdout."""

    BAR = 20

    def __init__(
        self,
        log: Callable[[str], None],
        *,
        epochs: int,
        steps_per_epoch: int,
        global_batch_size: int,
        interval: float = 5.0,
        stream: TextIO | None = None,
        active: bool = True,
    ) -> None:
        self.log = log
        self.active = active  # False on the workers other than the chief
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.global_batch_size = global_batch_size
        self.interval = interval
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._epoch_start: tuple[int, int, float] | None = None  # (epoch, step, time)
        self._shown = 0.0
        self._rewriting = False

    def on_steps(self, epoch: int, step: int) -> None:
        if not self.active:
            return
        now = time.perf_counter()
        if self._epoch_start is None or self._epoch_start[0] != epoch:
            self._epoch_start = (epoch, step, now)  # after the first call: no tracing in it
            self._shown = now
            return
        if now - self._shown < self.interval or step >= self.steps_per_epoch:
            return
        self._shown = now
        _, first, started = self._epoch_start
        rate = (step - first) / (now - started)  # steps per second
        left = (self.steps_per_epoch - step) / rate if rate else float("inf")
        done = self.BAR * step // self.steps_per_epoch
        line = (
            f"epoch {epoch + 1}/{self.epochs} step {step}/{self.steps_per_epoch} "
            f"[{'=' * done}{'.' * (self.BAR - done)}] {rate * self.global_batch_size:.1f} "
            f"images/s, ETA {_duration(left)}"
        )
        if self.tty:
            self.stream.write(f"\r{time.strftime('%H:%M:%S')} {line}")
            self.stream.flush()
            self._rewriting = True
        else:
            self.log(line)

    def message(self, text: str) -> None:
        """A line of its own (ends a progress line rewritten in place)."""
        if self._rewriting:
            self.stream.write("\n")
            self._rewriting = False
        self.log(text)

    def on_epoch(self, record: Record, history: Sequence[Record]) -> None:
        speed = record["images_per_second"]
        ema = (
            f" ema_val_accuracy {record['ema_val_accuracy']:.4f} |"
            if record.get("ema_val_accuracy") is not None
            else ""
        )
        self.message(
            f"epoch {record['epoch']}/{self.epochs}: loss {record['loss']:.4f} accuracy "
            f"{record['accuracy']:.4f} | val_loss {record['val_loss']:.4f} val_accuracy "
            f"{record['val_accuracy']:.4f} top-5 {record['val_top5_accuracy']:.4f} |{ema} lr "
            f"{record['learning_rate']:.4g}"
            + (
                f"-{record['learning_rate_end']:.4g}"
                if record["learning_rate_end"] != record["learning_rate"]
                else ""
            )
            + f" | {'' if speed is None else f'{speed:.1f} images/s, '}"
            f"{record['epoch_seconds']:.1f} s"
            + (" | plateau: learning rate reduced" if record.get("lr_reduced") else "")
        )


class HistoryFiles(Reporter):
    """history.csv and history.json in the run directory, rewritten after each epoch."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def on_epoch(self, record: Record, history: Sequence[Record]) -> None:
        reports.write_history(history, self.directory)

    def on_end(self, history: Sequence[Record]) -> None:
        reports.write_history(history, self.directory)


class TensorBoard(Reporter):
    """Scalars per epoch in `directory/train` and `directory/validation`, at the step that
    ends the epoch; a run starting after `epochs_done` epochs first discards (for TensorBoard)
    the scalars a killed run wrote after them."""

    TRAIN = ("loss", "accuracy", "learning_rate", "weight_decay_loss", "images_per_second")
    VALIDATION = (
        ("val_loss", "loss"),
        ("val_accuracy", "accuracy"),
        ("val_top5_accuracy", "top5_accuracy"),
        ("ema_val_accuracy", "ema_accuracy"),
    )

    def __init__(
        self, directory: str | os.PathLike, steps_per_epoch: int, epochs_done: int = 0
    ) -> None:
        self.log = reports.TensorBoardLog(directory)
        self.steps_per_epoch = steps_per_epoch
        self.log.start(epochs_done * steps_per_epoch + 1)

    def on_epoch(self, record: Record, history: Sequence[Record]) -> None:
        step = record["epoch"] * self.steps_per_epoch
        self.log.scalars("train", {k: record.get(k) for k in self.TRAIN}, step)
        values = {name: record.get(key) for key, name in self.VALIDATION}
        self.log.scalars("validation", values, step)
        fault_point("tensorboard")


class Plot(Reporter):
    """history.png at the end of training (and when it stops on a NaN)."""

    def __init__(self, path: str | os.PathLike, title: str) -> None:
        self.path, self.title = Path(path), title

    def on_end(self, history: Sequence[Record]) -> None:
        if history:
            reports.plot_history(history, self.path, self.title)
