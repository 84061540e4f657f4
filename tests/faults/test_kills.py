"""Fault injection: a run killed right after each of its writes (`KC_FAULT_AFTER`), then resumed,
has every epoch in its history and its TensorBoard scalars exactly once and a `model.keras` that
loads; a truncated newest checkpoint is skipped (with its reason) for the previous one; stale
`*_temp` and `.worker-*` saves are removed; a resume with other settings is refused unless
`resume_changed`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_classics.durable import FAULT_EXIT_STATUS, FAULT_VARIABLE
from keras_classics.training import reports
from keras_classics.training.config import RunConfig
from keras_classics.training.run import MODEL_FILE, train
from tests.helpers import REPO

EPOCHS, STEPS = 3, 2
TINY = {"model": "resnet20", "dataset": "synthetic", "train_crop_size": 8, "batch_size": 16}
ARGS = ["--model", "resnet20", "--dataset", "synthetic", "--image-size", "8", "--batch-size",
        "16", "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS)]  # fmt: skip


def config(directory, **changes) -> RunConfig:
    base = {**TINY, "epochs": EPOCHS, "steps_per_epoch": STEPS, "output_dir": str(directory)}
    return RunConfig(**{**base, **changes})


def killed_after(point: str, directory) -> None:
    """`scripts/train.py` killed right after the write `point` (e.g. history:2)."""
    done = subprocess.run(
        [sys.executable, "scripts/train.py", *ARGS, "--output-dir", str(directory)],
        cwd=REPO,
        env={**os.environ, FAULT_VARIABLE: point, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == FAULT_EXIT_STATUS, done.stdout + done.stderr


def assert_complete(directory) -> None:
    """Every epoch once in history.json and history.csv, a loadable model, a summary."""
    assert [r["epoch"] for r in reports.read_history(directory)] == [1, 2, 3]
    csv_epochs = (directory / reports.HISTORY_CSV).read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in csv_epochs] == ["1", "2", "3"]
    summary = json.loads((directory / reports.SUMMARY_JSON).read_text())
    assert summary["epochs_completed"] == EPOCHS
    keras.saving.load_model(directory / MODEL_FILE)
    assert not list(directory.glob(".*partial*")), "a temporary file was left behind"
    for split in ("train", "validation"):  # each epoch's scalars once, as TensorBoard reads
        scalars = reports.read_scalars(directory / reports.TENSORBOARD_DIR / split)
        assert [step for step, _ in scalars["loss"]] == [2, 4, 6], (split, scalars["loss"])


@pytest.mark.parametrize(
    ("point", "resumed_epochs"),
    [("history:2", 1), ("tensorboard:2", 1), ("checkpoint:2", 2), ("model", 3)],
)
def test_a_run_killed_after_a_write_resumes_without_losing_or_repeating_an_epoch(
    tmp_path, capsys, point, resumed_epochs
):
    killed_after(point, tmp_path)
    stale = [tmp_path / "checkpoints" / name for name in ("ckpt-99_temp", ".worker-worker-1")]
    for directory in stale:  # a save killed midway, by the chief or by worker 1
        (directory / "part").mkdir(parents=True)
    summary = train(config(tmp_path))
    out = capsys.readouterr().out
    assert f"{resumed_epochs} epoch(s) done" in out, out
    assert not [directory for directory in stale if directory.exists()]
    assert_complete(tmp_path)
    assert summary["resumed_from"].endswith(f"ckpt-{resumed_epochs * STEPS}")


def test_a_truncated_newest_checkpoint_resumes_from_the_previous_one(tmp_path, capsys):
    """... and a resume with other settings is refused, listing them, unless asked for."""
    train(config(tmp_path, epochs=2))
    with pytest.raises(ValueError, match=r"other settings: batch_size: 16 -> 8; .*epochs: 2 -> 3"):
        train(config(tmp_path, batch_size=8))
    newest = sorted((tmp_path / "checkpoints").glob("ckpt-4.data-*"))
    assert newest
    for shard in newest:
        shard.write_bytes(shard.read_bytes()[:100])
    summary = train(config(tmp_path, resume_changed=True))  # 2 -> 3 epochs
    out = capsys.readouterr().out
    assert "skipped checkpoint" in out and "ckpt-4: unreadable" in out, out
    assert summary["resumed_from"].endswith("ckpt-2")
    assert_complete(tmp_path)
