"""scripts/train.py as a user runs it: SIGKILL mid-epoch, restart, finish; clear errors."""

from __future__ import annotations

import json

import tensorflow as tf

from keras_classics.training import reports
from tests.training.processes import TINY, Training, resumed_from


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    command = [*TINY, "--epochs", "4", "--steps-per-epoch", "6", "--checkpoint-every", "4",
               "--output-dir", str(tmp_path)]  # fmt: skip
    first = Training(command)
    first.until(lambda line: "(epoch 2, step 2)" in line)  # global step 8, mid-epoch 2
    first.kill()
    assert "test accuracy" not in "\n".join(first.lines)

    second = Training(command)
    out = second.finish()
    number, epochs_done, steps_done = resumed_from(out)
    assert number >= 8 and number == 6 * epochs_done + steps_done, out
    # Finished epochs are not repeated: the restarted run reports only the later ones.
    reported = [
        int(line.split()[1].split("/")[0])
        for line in out.splitlines()
        if line.startswith("epoch ") and ":" in line.split()[1]
    ]
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
