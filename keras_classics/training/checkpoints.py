"""Checkpoints for automatic resume: model, optimizer, schedule state and progress counters.

`tf.train.Checkpoint` + `tf.train.CheckpointManager`, the multi-worker pattern of the
TensorFlow guide "Multi-worker training with Keras" (section "Model saving and loading"):
every worker saves (distributed variables may need all of them), the chief into the real
directory, the others into a temporary per-worker directory they delete afterwards, so no
worker ever overwrites the chief's files or another worker's. Every worker restores from the
real directory, which must therefore be shared (a network file system, GCS, S3).
A checkpoint is written completely before the manager's index points at it, so a process
killed while saving leaves the previous checkpoint as the latest.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import keras
import tensorflow as tf

from keras_classics.training.strategies import Task, chief_or_worker_dir


@dataclass(frozen=True)
class Progress:
    """Where a run stands: completed epochs, steps done in the current epoch."""

    epoch: int = 0
    step: int = 0

    def global_step(self, steps_per_epoch: int) -> int:
        return self.epoch * steps_per_epoch + self.step


class Checkpoints:
    """Saves and restores one run's training state in `directory`."""

    def __init__(
        self,
        directory: str | os.PathLike,
        task: Task,
        *,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        extra: dict[str, tf.Variable] | None = None,
        max_to_keep: int = 3,
    ) -> None:
        self.directory = os.fspath(directory)
        self.task = task
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            epoch=self._epoch,
            step_in_epoch=self._step,
            **(extra or {}),
        )
        self._write_dir = chief_or_worker_dir(self.directory, task)
        self._manager = tf.train.CheckpointManager(
            self.checkpoint, self._write_dir, max_to_keep=max_to_keep
        )

    def latest(self) -> str | None:
        """The newest complete checkpoint of the run (in the chief's directory), if any."""
        return tf.train.latest_checkpoint(self.directory)

    def restore(self, start: str | None = None) -> tuple[Progress, str | None]:
        """Restores the newest checkpoint (or `start`: a checkpoint prefix or a directory of
        checkpoints); returns the progress it recorded and its path."""
        path = self.latest() if start is None else find_checkpoint(start)
        if path is None:
            return Progress(), None
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except AssertionError as error:
            raise ValueError(
                f"checkpoint {path} does not match this run (another model, optimizer or "
                f"schedule?): {str(error)[:300]}. Use another checkpoint directory, or "
                "--no-resume to start over"
            ) from None
        return Progress(int(self._epoch.numpy()), int(self._step.numpy())), path

    def save(self, progress: Progress, number: int) -> str | None:
        """Saves the state at `progress` as checkpoint `number` (e.g. the global step);
        returns its path on the chief, None on the other workers."""
        self._epoch.assign(progress.epoch)
        self._step.assign(progress.step)
        path = self._manager.save(checkpoint_number=number)
        if not self.task.is_chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)
            return None
        return path


def find_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint prefix `path` names: itself, or the newest one in a directory."""
    path = os.fspath(path)
    prefix = tf.train.latest_checkpoint(path) if os.path.isdir(path) else path
    if prefix is None or not tf.io.gfile.exists(f"{prefix}.index"):
        raise ValueError(
            f"{path!r} is not a checkpoint: give a checkpoint prefix (e.g. "
            "runs/NAME/checkpoints/ckpt-20) or a directory holding checkpoints"
        )
    return prefix


def remove_checkpoints(directory: str | os.PathLike, task: Task) -> None:
    """Deletes a run's checkpoints to start it over (the chief only; before `Checkpoints`)."""
    if task.is_chief and os.path.isdir(directory):
        shutil.rmtree(directory)
