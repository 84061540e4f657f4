"""train() on MNIST-1D with a 1D model: the paper's recipe, the signal pipeline, the reports,
and clear errors for a model and a dataset that do not fit together."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

import keras
import pytest

from keras_classics.cli import run_script
from keras_classics.training import recipes, reports
from keras_classics.training.config import RunConfig
from keras_classics.training.resolved import CONFIG_JSON
from keras_classics.training.run import MODEL_FILE, train

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str) -> Any:
    """scripts/NAME.py as a module, to call its `main` in this process."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The generated MNIST-1D in a cache directory of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_CLASSICS_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def finished(cache, tmp_path_factory):
    """cnn_1d on MNIST-1D with the paper's recipe for 2 epochs (80 steps of 100 signals)."""
    keras.utils.set_random_seed(0)
    run = tmp_path_factory.mktemp("mnist1d") / "run"
    config = RunConfig(model="cnn_1d", dataset="mnist1d", epochs=2, output_dir=str(run))
    summary = train(config)
    keras.utils.clear_session()
    return run, summary


def test_the_mnist1d_recipe_is_the_papers_adam():
    hp = recipes.resolve("mnist1d", dataset="mnist1d_shuffled", train_examples=4000)
    assert (hp.learning_rate, hp.global_batch_size, hp.epochs) == (1e-2, 100, 150)
    assert (hp.schedule_name, hp.weight_decay, hp.warmup_steps) == ("constant", 0.0, 0)
    assert hp.total_steps == 6000  # the repository's total_steps
    optimizer = hp.make_optimizer(hp.make_schedule())
    assert isinstance(optimizer, keras.optimizers.Adam)
    sgd = recipes.resolve("resnet_cifar", train_examples=50_000)
    assert isinstance(sgd.make_optimizer(sgd.make_schedule()), keras.optimizers.SGD)


def test_a_short_run_learns_and_writes_its_reports(finished):
    run, summary = finished
    stored = json.loads((run / CONFIG_JSON).read_text())
    options, derived = stored["options"], stored["derived"]
    assert (options["augmentation"], options["batch_size"], options["learning_rate"]) == (
        "signal",
        100,
        0.01,
    )
    assert options["weight_decay"] == 0.0 and derived["input_shape"] == [40]
    rows = list(csv.DictReader((run / reports.HISTORY_CSV).open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["learning_rate"]) == pytest.approx(0.01) for r in rows)
    assert summary["model"] == "cnn_1d" and summary["dataset"] == "mnist1d"
    # 80 Adam steps lift the CNN well above chance (0.10) on the 1,000 test signals.
    assert summary["accuracy"] > 0.3, summary
    model = keras.saving.load_model(run / MODEL_FILE, compile=False)
    assert model.input_shape == (None, 40) and model.count_params() == 5_210


def test_a_model_and_a_dataset_of_different_kinds_are_one_line_errors(cache, tmp_path, capsys):
    script = load_script("train")
    for model, dataset, message in (
        ("cnn_1d", "digits", "choose a signal dataset: ['mnist1d', 'mnist1d_shuffled']"),
        ("resnet20", "mnist1d", "choose a signal model: ['logistic_1d', 'mlp_1d', 'cnn_1d'"),
    ):
        argv = ["--model", model, "--dataset", dataset, "--output-dir", str(tmp_path / model)]
        assert run_script(script.main, argv) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]


def test_export_refuses_a_1d_model_in_one_line(finished, capsys):
    run, _ = finished
    export = load_script("export")
    argv = ["--keras-model", str(run / MODEL_FILE), "--export-base", str(run / "x")]
    assert run_script(export.main, argv) == 2 and not (run / "x").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == ["error: export.py: model 'cnn_1d' must take one image batch [batch, H, W, C]"]
