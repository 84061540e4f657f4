"""scripts/reproduce.py: the quick MNIST-1D and degradation experiments, as CI runs them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_classics.reproduce.experiments import EXPERIMENTS, Claim
from keras_classics.reproduce.report import summarise, write_report
from keras_classics.reproduce.runs import RunResult
from tests.helpers import REPO, run_python


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One run of `reproduce.py mnist1d degradation --quick` (about two minutes on 2 cores)."""
    root = tmp_path_factory.mktemp("reproduce")
    env = {"KERAS_CLASSICS_CACHE": str(root / "cache")}
    out = run_python(
        "scripts/reproduce.py",
        "mnist1d",
        "degradation",
        "--quick",
        "--output-dir",
        str(root / "out"),
        env=env,
    )
    return root / "out", out, env


def read_rows(path):
    with path.open() as file:
        return {row["label"]: row for row in csv.DictReader(file)}


def test_quick_mnist1d_trains_the_paper_baselines(quick):
    directory, out, _ = quick
    rows = read_rows(directory / "mnist1d.csv")
    assert list(rows) == ["logistic", "MLP", "CNN", "ResNet-20"]
    accuracy = {label: float(row["test_accuracy"]) for label, row in rows.items()}
    assert accuracy["CNN"] >= 85.0  # paper 94 after 6,000 steps; 800 steps here
    assert 25.0 <= accuracy["logistic"] <= 40.0  # paper 32: a linear model plateaus early
    assert accuracy["ResNet-20"] >= 85.0
    assert "| CNN | 94 |" in out and "claim (means over seeds)" in out


def test_quick_degradation_shows_residual_nets_train_faster(quick):
    directory, _, _ = quick
    rows = read_rows(directory / "degradation.csv")
    assert list(rows) == ["plain-20", "plain-56", "ResNet-20", "ResNet-56"]
    error = {label: float(row["final_train_error"]) for label, row in rows.items()}
    assert error["ResNet-56"] < error["plain-56"] and error["ResNet-20"] < error["plain-20"]
    document = json.loads((directory / "degradation.json").read_text())
    assert all(claim["holds"] for claim in document["claims"])
    runs = document["runs"]
    assert all(len(run["train_error"]) == 3 and run["test_epochs"] == [3] for run in runs)


def test_reports_are_written_and_parse(quick):
    import matplotlib.pyplot as plt

    directory, _, _ = quick
    for name in ("mnist1d", "degradation"):
        table = (directory / f"{name}.md").read_text()
        assert table.count("\n| ") >= 1 + len(EXPERIMENTS[name].configs)  # header + rows
        image = plt.imread(directory / f"{name}.png")
        assert image.ndim == 3 and image.shape[1] > image.shape[0] > 300
        assert image[..., :3].std() > 0.05  # something is drawn
    assert len(list((directory / "runs").glob("*.json"))) == 8


def test_a_second_invocation_reuses_the_recorded_runs(quick):
    directory, _, env = quick
    out = run_python(
        "scripts/reproduce.py", "mnist1d", "--quick", "--output-dir", str(directory), env=env
    )
    assert out.count("(recorded earlier)") == 4


def run_script(*args, env):
    return subprocess.run(
        [sys.executable, "scripts/reproduce.py", *args],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_mnist1d_package_is_one_line(tmp_path):
    blocker = tmp_path / "blocked" / "mnist1d"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named mnist1d')\n")
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "blocked"), str(REPO)]),
        "KERAS_CLASSICS_CACHE": str(tmp_path / "cache"),
    }
    result = run_script("mnist1d", "--quick", "--output-dir", str(tmp_path / "out"), env=env)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "pip install mnist1d" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_experiment_lists_the_valid_ones(tmp_path):
    result = run_script("cifar10", env={})
    assert result.returncode == 2 and "invalid choice: 'cifar10'" in result.stderr
    assert "degradation" in result.stderr


def fake_run(label: str, seed: int, test_accuracy: float, train_error: float) -> RunResult:
    return RunResult(
        label=label,
        model="cnn_1d",
        options={},
        dataset="mnist1d",
        seed=seed,
        train_error=[50.0, train_error],
        test_epochs=[2],
        test_error=[100.0 - test_accuracy],
        final_train_error=train_error,
        test_accuracy=test_accuracy,
        wall_s=1.5,
    )


def test_summary_and_claims_are_computed_over_seeds(tmp_path):
    experiment = EXPERIMENTS["degradation"]
    results = [
        fake_run(config.label, seed, 90.0 + seed, error + seed)
        for config, error in zip(experiment.configs, (4.0, 8.0, 2.0, 1.0), strict=True)
        for seed in (0, 1, 2)
    ]
    summary = summarise(results)
    assert summary["plain-56"]["train_error"] == pytest.approx(9.0)
    assert summary["plain-56"]["train_error_std"] == pytest.approx(1.0)  # sample std of 8, 9, 10
    assert summary["ResNet-20"]["test_accuracy"] == pytest.approx(91.0)
    assert summary["ResNet-20"]["seeds"] == 3 and summary["ResNet-20"]["wall_s"] == 4.5
    assert all(claim.holds(summary) for claim in experiment.claims)
    assert not Claim("train_error", "plain-56", "<", "plain-20").holds(summary)
    paths = write_report(experiment, results, experiment.claims, tmp_path, "header")
    table = paths["md"].read_text()
    assert "| plain-56 | - | 91.0 ± 1.0 | 9.0 ± 1.0 | 3 | 4 |" in table
    assert "| final training error %: plain-56 > plain-20 | yes |" in table
    assert np.isclose(float(read_rows(paths["csv"])["ResNet-56"]["final_train_error"]), 3.0)
