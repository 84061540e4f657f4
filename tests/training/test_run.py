"""A whole run in-process on the synthetic dataset: reports, NaN stop, evaluation, choices."""

from __future__ import annotations

import csv
import json

import keras
import pytest

from keras_classics.training import reports
from keras_classics.training.config import RunConfig
from keras_classics.training.options import parse_config
from keras_classics.training.run import MODEL_FILE, DivergedError, train

TINY = {"model": "resnet20", "dataset": "synthetic", "image_size": 8, "batch_size": 16}


def tiny_config(tmp_path, **changes) -> RunConfig:
    return RunConfig(**{**TINY, "output_dir": str(tmp_path / "run"), **changes})


def test_reports_are_written_and_well_formed(tmp_path, capsys):
    config = tiny_config(tmp_path, epochs=2, steps_per_epoch=3, export_dir=str(tmp_path / "export"))
    summary = train(config)
    out = capsys.readouterr().out
    run = tmp_path / "run"
    assert "global batch 16 = 1 replica(s) x 16 per replica" in out
    rows = list(csv.DictReader((run / reports.HISTORY_CSV).open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert tuple(rows[0]) == reports.HISTORY_FIELDS
    history = json.loads((run / reports.HISTORY_JSON).read_text())["history"]
    assert [float(r["val_accuracy"]) for r in rows] == pytest.approx(
        [h["val_accuracy"] for h in history]
    )
    written = json.loads((run / reports.SUMMARY_JSON).read_text())
    model = keras.saving.load_model(run / MODEL_FILE, compile=False)
    assert written["parameters"] == model.count_params() == summary["parameters"]
    assert written["model"] == "resnet20" and written["dataset"] == "synthetic"
    assert written["eval_examples"] == 128 and written["epochs_completed"] == 2
    assert written["accuracy"] == history[-1]["val_accuracy"]
    assert written["images_per_second"] > 0 and written["wall_time_seconds"] > 0
    assert written["export"].startswith(str(tmp_path / "export"))
    assert (tmp_path / "export" / "1" / "saved_model.pb").is_file()
    # The PNG is a real image of the figure's size.
    import matplotlib.image

    image = matplotlib.image.imread(run / reports.PLOT_PNG)
    assert image.shape[:2] == (400, 1300) and image.std() > 0
    # TensorBoard scalars at the end of each epoch (step = epochs x steps per epoch).
    scalars = reports.read_scalars(run / reports.TENSORBOARD_DIR / "validation")
    assert [s for s, _ in scalars["accuracy"]] == [3, 6]
    assert scalars["accuracy"][-1][1] == pytest.approx(written["accuracy"])
    train_scalars = reports.read_scalars(run / reports.TENSORBOARD_DIR / "train")
    assert {"loss", "accuracy", "learning_rate", "weight_decay_loss"} <= set(train_scalars)

    # Evaluation only, on the saved model and on the checkpoints: the same accuracy.
    for saved in (run / MODEL_FILE, run / "checkpoints"):
        results = train(tiny_config(tmp_path, evaluate=str(saved)))
        assert results["examples"] == 128
        assert results["accuracy"] == pytest.approx(written["accuracy"])
    assert json.loads((run / "evaluation.json").read_text())["accuracy"] == pytest.approx(
        written["accuracy"]
    )


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    train(tiny_config(tmp_path, epochs=1, steps_per_epoch=2))
    good = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert "ckpt-2.index" in good
    with pytest.raises(
        DivergedError, match=r"NaN or infinite in epoch 2 .*last good checkpoint is .*ckpt-2"
    ):
        train(tiny_config(tmp_path, epochs=3, steps_per_epoch=2, learning_rate=1e30))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == good
    history = reports.read_history(tmp_path / "run")
    assert [r["epoch"] for r in history] == [1]


def test_bad_choices_are_clear_errors(tmp_path, capsys):
    for option, bad, choices in (
        (
            "--strategy",
            "fast",
            ["auto", "default", "one_device", "mirrored", "multi_worker", "tpu"],
        ),
        ("--recipe", "adam", ["paper", "step", "plateau", "cosine", "constant"]),
        ("--model", "lenet", ["resnet18", "resnet20", "vgg16", "alexnet"]),
        ("--precision", "int8", ["float32", "float16", "bfloat16"]),
    ):
        with pytest.raises(SystemExit):
            parse_config([option, bad])
        err = capsys.readouterr().err
        assert f"argument {option}: invalid choice: '{bad}'" in err
        assert all(f"'{choice}'" in err for choice in choices), err
    with pytest.raises(ValueError, match=r"unknown TFDS dataset 'nope'.*digits.*'synthetic'"):
        train(tiny_config(tmp_path, dataset="nope"))
    with pytest.raises(ValueError, match=r"multi_worker needs TF_CONFIG"):
        train(tiny_config(tmp_path, strategy="multi_worker"))
    with pytest.raises(ValueError, match=r"strategy tpu: no TPU found.*'auto', 'default'"):
        train(tiny_config(tmp_path, strategy="tpu"))
    with pytest.raises(ValueError, match=r"model option classes=7 but synthetic has 10 classes"):
        train(tiny_config(tmp_path, model_options={"classes": 7}))
