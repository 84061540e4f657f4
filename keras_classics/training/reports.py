"""What a run leaves behind: history (CSV and JSON), summary JSON, PNG plots, TensorBoard logs,
per-class accuracy and the confusion matrix (CSV and PNG).

Only the chief writes them, each through `durable.atomic_write` (temporary file, fsync,
rename), so a reader (or a run killed while writing) never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keras_classics.durable import atomic_path, atomic_write, fault_point

HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
SUMMARY_JSON = "summary.json"
PLOT_PNG = "history.png"
TENSORBOARD_DIR = "tensorboard"
CONFUSION_CSV = "confusion.csv"
CONFUSION_PNG = "confusion.png"
PER_CLASS_CSV = "per_class.csv"

# The columns of the history, one row per epoch. `learning_rate` is the rate of the epoch's
# first step, `learning_rate_end` of its last; `ema_*` are empty without --model-ema.
HISTORY_FIELDS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "val_top5_accuracy",
    "ema_val_loss",
    "ema_val_accuracy",
    "learning_rate",
    "learning_rate_end",
    "weight_decay_loss",
    "images_per_second",
    "epoch_seconds",
    "time",
)


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(data: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Writes `data` as indented JSON (NaN as null)."""
    path = Path(path)
    atomic_write(path, json.dumps(_json_safe(data), indent=2, sort_keys=False) + "\n")
    return path


def write_history(rows: Sequence[Mapping[str, Any]], directory: str | os.PathLike) -> None:
    """Writes the per-epoch history as `history.csv` and `history.json` in `directory`."""
    directory = Path(directory)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in HISTORY_FIELDS})
    atomic_write(directory / HISTORY_CSV, buffer.getvalue())
    write_json({"history": list(rows)}, directory / HISTORY_JSON)
    fault_point("history")


def read_history(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of `history.json` in `directory` ([] when there is none)."""
    path = Path(directory) / HISTORY_JSON
    if not path.is_file():
        return []
    return list(json.loads(path.read_text())["history"])


def plot_history(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str = ""
) -> Path:
    """Loss, accuracy and learning rate per epoch, training and validation, as a PNG.

    Uses matplotlib's object API with the Agg canvas (no display, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 4), layout="constrained")
    FigureCanvasAgg(figure)
    epochs = [row["epoch"] for row in rows]
    panels = (
        ("loss", (("loss", "training"), ("val_loss", "validation")), "log"),
        ("accuracy", (("accuracy", "training"), ("val_accuracy", "validation")), "linear"),
        (
            "learning rate",
            (("learning_rate", "first step"), ("learning_rate_end", "last step")),
            "log",
        ),
    )
    for index, (label, series, scale) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        for key, name in series:
            values = [row.get(key) for row in rows]
            points = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=name)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.set_yscale(scale)
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)
    return path


def write_confusion(
    confusion: Sequence[Sequence[int]],
    class_names: Sequence[str],
    directory: str | os.PathLike,
    title: str = "",
) -> dict[str, float]:
    """Writes confusion.csv (rows: true class, columns: predicted), per_class.csv (examples
    and accuracy per class) and confusion.png; returns the accuracy per class name."""
    directory = Path(directory)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["true \\ predicted", *class_names])
    for name, row in zip(class_names, confusion, strict=True):
        writer.writerow([name, *row])
    atomic_write(directory / CONFUSION_CSV, buffer.getvalue())
    per_class = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", "examples", "accuracy"])
    for index, (name, row) in enumerate(zip(class_names, confusion, strict=True)):
        total = sum(row)
        per_class[name] = row[index] / total if total else float("nan")
        writer.writerow([name, total, "" if not total else per_class[name]])
    atomic_write(directory / PER_CLASS_CSV, buffer.getvalue())
    _plot_confusion(confusion, class_names, directory / CONFUSION_PNG, title)
    return per_class


def _plot_confusion(
    confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: Path, title: str
) -> None:
    """The confusion matrix as an image, each row normalised to the class's examples."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.4 * len(class_names), 20)
    figure = Figure(figsize=(size, size), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    if len(class_names) <= 30:
        ticks = range(len(class_names))
        axes.set_xticks(ticks, class_names, rotation=90)
        axes.set_yticks(ticks, class_names)
        for (row, column), count in np.ndenumerate(counts):
            if count:
                color = "white" if rates[row, column] > 0.5 else "black"
                axes.text(column, row, int(count), ha="center", va="center", color=color)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or "confusion matrix")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)


class TensorBoardLog:
    """Scalars for TensorBoard in `<directory>/train` and `<directory>/validation` (chief).

    Written with `tf.summary.write` and the scalars plugin's metadata, exactly what
    `tensorboard.summary.scalar` writes, so the `tensorboard` package is needed only to view.
    A run first writes `start(step)`: a `SessionLog.START` event, on which TensorBoard drops the
    earlier scalars at `step` and after (a killed run's, written again after the resume).
    """

    def __init__(self, directory: str | os.PathLike | None) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        self._tf = tf
        self._metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        ).SerializeToString()
        self._writers = {}
        if directory is not None:
            for split in ("train", "validation"):
                self._writers[split] = tf.summary.create_file_writer(os.path.join(directory, split))

    def start(self, step: int) -> None:
        """Marks a (re)start at `step` in every log: TensorBoard discards what they hold from
        `step` on (its "purge orphaned data" rule for event files of version 2)."""
        try:  # `import_event` has no public name; TensorFlow may move it
            from tensorflow.python.ops.summary_ops_v2 import import_event
        except ImportError as error:
            message = f"TensorBoard restart not marked ({error}): a retrained epoch may show twice"
            warnings.warn(message, stacklevel=2)
            return
        v1 = self._tf.compat.v1
        start = v1.SessionLog(status=v1.SessionLog.START)
        event = v1.Event(step=step, wall_time=time.time(), session_log=start)
        for writer in self._writers.values():
            with writer.as_default():
                import_event(self._tf.constant(event.SerializeToString()))
            writer.flush()

    def scalars(self, split: str, values: Mapping[str, float | None], step: int) -> None:
        """Writes `values` (None and NaN skipped) at `step` to the `split` log."""
        writer = self._writers.get(split)
        if writer is None:
            return
        with writer.as_default(step=step):
            for name, value in values.items():
                if value is not None and math.isfinite(value):
                    tensor = self._tf.constant(value, self._tf.float32)
                    self._tf.summary.write(name, tensor, metadata=self._metadata)
        writer.flush()


def read_scalars(directory: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the event files in `directory`, as TensorBoard shows them: tag ->
    [(step, value)], a `SessionLog.START` at step s dropping those before it at s and after."""
    import tensorflow as tf

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            if event.session_log.status == event.session_log.START:
                found = {
                    tag: [p for p in points if p[0] < event.step] for tag, points in found.items()
                }
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                found.setdefault(value.tag, []).append((int(event.step), number))
    return found
