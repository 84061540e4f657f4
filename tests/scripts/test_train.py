"""scripts/train.py as a user runs it: SIGKILL mid-epoch, restart, finish; progress from the
first seconds; clear errors."""

from __future__ import annotations

import json
import re
import time

import tensorflow as tf

from keras_classics.training import reports
from tests.training.processes import TINY, Training, resumed_from


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    command = [*TINY, "--epochs", "4", "--steps-per-epoch", "6", "--checkpoint-every", "4",
               "--output-dir", str(tmp_path), "--progress-seconds", "0"]  # fmt: skip
    started = time.perf_counter()
    first = Training(command)
    first.until(lambda line: True)
    assert time.perf_counter() - started < 5.0, first.lines  # a first line within 5 s
    assert re.match(r"\d\d:\d\d:\d\d train.py: loading", first.lines[0])
    first.until(lambda line: "(epoch 2, step 2)" in line)  # global step 8, mid-epoch 2
    # A progress line within the epoch, with step count, speed and ETA, before the epoch line.
    progress = [line for line in first.lines if re.search(r" epoch 1/4 step \d/6 \[", line)]
    assert progress and re.search(r"\] [\d.]+ images/s, ETA 0:00:\d\d$", progress[0]), first.lines
    first.kill()
    assert "test accuracy" not in "\n".join(first.lines)

    second = Training(command)
    out = second.finish()
    number, epochs_done, steps_done = resumed_from(out)
    assert number >= 8 and number == 6 * epochs_done + steps_done, out
    # Finished epochs are not repeated: the restarted run reports only the later ones.
    reported = [int(m) for m in re.findall(r"^\d\d:\d\d:\d\d epoch (\d)/4: loss", out, re.M)]
    assert reported == list(range(epochs_done + 1, 5)), out
    history = reports.read_history(tmp_path)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    summary = json.loads((tmp_path / reports.SUMMARY_JSON).read_text())
    assert summary["epochs_completed"] == 4 and summary["resumed_from"].endswith(f"ckpt-{number}")
    # The optimizer made exactly 4 x 6 steps over both runs.
    latest = tf.train.latest_checkpoint(tmp_path / "checkpoints")
    assert latest.endswith("ckpt-24")
    iterations = [
        n
        for n, _ in tf.train.list_variables(latest)
        if n.startswith("optimizer/") and "iteration" in n
    ]
    assert [int(tf.train.load_variable(latest, n)) for n in iterations] == [24]


def test_unknown_dataset_is_a_clear_error(tmp_path):
    run = Training(["--dataset", "no_such_data", "--output-dir", str(tmp_path)])
    run.finish(expect=2)
    assert "unknown TFDS dataset 'no_such_data'" in run.output() and "'synthetic'" in run.output()
