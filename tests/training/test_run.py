"""A whole run in-process on the synthetic dataset: reports, LR column, evaluation of the four
artefacts, per-class report, replay, NaN stop, choices."""

from __future__ import annotations

import csv
import json
import runpy

import keras
import numpy as np
import pytest

from keras_classics.models.record import model_record
from keras_classics.training import reports
from keras_classics.training.config import RunConfig
from keras_classics.training.options import parse_config
from keras_classics.training.resolved import CONFIG_JSON
from keras_classics.training.run import MODEL_FILE, DivergedError, train
from tests.helpers import REPO

TINY = {"model": "resnet20", "dataset": "synthetic", "train_crop_size": 8, "batch_size": 16}


def tiny_config(tmp_path, **changes) -> RunConfig:
    return RunConfig(**{**TINY, "output_dir": str(tmp_path / "run"), **changes})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One 2-epoch run (step schedule: x0.1 after epoch 1) with an export: shared."""
    keras.utils.set_random_seed(1234)
    tmp_path = tmp_path_factory.mktemp("finished")
    config = tiny_config(
        tmp_path,
        epochs=2,
        steps_per_epoch=3,
        recipe="step",
        lr_boundaries=(1.0,),
        export_dir=str(tmp_path / "export"),
    )
    summary = train(config)
    keras.utils.clear_session()
    return tmp_path, summary


def test_reports_are_written_and_well_formed(finished):
    tmp_path, summary = finished
    run = tmp_path / "run"
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
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert written["trainable_parameters"] == trainable == 269_722  # docs/training.md's figure
    assert written["non_trainable_parameters"] == model.count_params() - trainable > 0
    assert written["model"] == "resnet20" and written["dataset"] == "synthetic"
    assert written["eval_examples"] == 128 and written["epochs_completed"] == 2
    assert written["accuracy"] == history[-1]["val_accuracy"]
    assert written["images_per_second"] > 0 and written["wall_time_seconds"] > 0
    assert written["export"].startswith(str(tmp_path / "export"))
    assert (tmp_path / "export" / "1" / "saved_model.pb").is_file()
    # The configuration, resolved once, is stored beside the summary.
    stored = json.loads((run / CONFIG_JSON).read_text())
    assert stored == written["config"]
    assert stored["derived"]["per_replica_batch_size"] == 16
    assert stored["options"]["val_crop_size"] == 8 and stored["options"]["epochs"] == 2
    import matplotlib.image

    image = matplotlib.image.imread(run / reports.PLOT_PNG)
    assert image.shape[:2] == (400, 1300) and image.std() > 0
    # TensorBoard scalars at the end of each epoch (step = epochs x steps per epoch).
    scalars = reports.read_scalars(run / reports.TENSORBOARD_DIR / "validation")
    assert [s for s, _ in scalars["accuracy"]] == [3, 6]
    assert scalars["accuracy"][-1][1] == pytest.approx(written["accuracy"])
    train_scalars = reports.read_scalars(run / reports.TENSORBOARD_DIR / "train")
    assert {"loss", "accuracy", "learning_rate", "weight_decay_loss"} <= set(train_scalars)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A short run on the embedded digits (16 x 16 crops), as the main job's in miniature."""
    keras.utils.set_random_seed(1234)
    tmp_path = tmp_path_factory.mktemp("digits")
    config = RunConfig(
        dataset="digits",
        train_crop_size=16,
        epochs=3,
        batch_size=32,
        recipe="constant",
        learning_rate=0.02,
        output_dir=str(tmp_path / "run"),
        progress_seconds=1000.0,
    )
    summary = train(config)
    keras.utils.clear_session()
    return tmp_path, summary


def test_the_runs_model_exports_with_its_own_preprocessing(digits_run):
    """scripts/export.py with no preprocessing flag serves the run's evaluation view: the test
    digits, PNG-encoded, through `serving_bytes` score the run's own test accuracy."""
    import tensorflow as tf

    from keras_classics.data import load_source
    from keras_classics.export import spec

    tmp_path, summary = digits_run
    record = model_record(keras.saving.load_model(tmp_path / "run" / MODEL_FILE, safe_mode=True))
    assert (record.normalization, record.image_size) == ("cifar10", 16)
    assert record.class_names == tuple(str(i) for i in range(10))
    main = runpy.run_path(str(REPO / "scripts" / "export.py"))["main"]
    main(["--keras-model", str(tmp_path / "run" / MODEL_FILE), "--no-warmup",
          "--export-base", str(tmp_path / "base")])  # fmt: skip
    serve = tf.saved_model.load(str(tmp_path / "base" / "1")).signatures[spec.SIGNATURE_BYTES]
    images, labels = zip(*load_source("digits").dataset("test").as_numpy_iterator(), strict=True)
    encoded = tf.stack([tf.io.encode_png(image) for image in images])
    classes = serve(**{spec.INPUT_BYTES: encoded})[spec.OUTPUT_CLASSES][:, 0].numpy()
    accuracy = float(np.mean(classes == np.array(labels)))
    assert len(labels) == summary["eval_examples"] == 359
    assert summary["accuracy"] > 0.5  # a model that has learnt something: a real comparison
    assert abs(accuracy - summary["accuracy"]) <= 0.005, (accuracy, summary["accuracy"])


def test_learning_rate_column_is_the_rate_the_epoch_trained_with(finished):
    tmp_path, _ = finished
    rows = reports.read_history(tmp_path / "run")
    base = 0.1 * 16 / 128  # the CIFAR recipe's 0.1 scaled to batch 16
    # The boundary is at step 3, the first step of epoch 2: epoch 1 trained at the base rate.
    assert [r["learning_rate"] for r in rows] == pytest.approx([base, base * 0.1])
    assert [r["learning_rate_end"] for r in rows] == pytest.approx([base, base * 0.1])


def test_per_class_accuracy_and_confusion_matrix(finished):
    tmp_path, summary = finished
    run = tmp_path / "run"
    table = list(csv.reader((run / reports.CONFUSION_CSV).open()))
    assert table[0][1:] == [f"class_{i}" for i in range(10)]
    counts = np.array([[int(x) for x in row[1:]] for row in table[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 128
    assert counts.sum(axis=1).tolist() == [13] * 8 + [12] * 2  # the test split's labels
    assert np.trace(counts) / 128 == pytest.approx(summary["accuracy"])
    per_class = {r["class"]: r for r in csv.DictReader((run / reports.PER_CLASS_CSV).open())}
    assert float(per_class["class_0"]["accuracy"]) == pytest.approx(counts[0, 0] / 13)
    assert summary["per_class_accuracy"]["class_9"] == pytest.approx(counts[9, 9] / 12)
    import matplotlib.image

    assert matplotlib.image.imread(run / reports.CONFUSION_PNG).std() > 0


def test_evaluate_takes_each_of_the_four_artefacts(finished):
    tmp_path, summary = finished
    run = tmp_path / "run"
    model = keras.saving.load_model(run / MODEL_FILE, compile=False)
    model.save_weights(tmp_path / "model.weights.h5")
    artefacts = (
        run / MODEL_FILE,
        tmp_path / "model.weights.h5",
        run / "checkpoints",
        tmp_path / "export",  # the export base: its newest version
    )
    for saved in artefacts:
        results = train(tiny_config(tmp_path / "eval", evaluate=str(saved)))
        assert results["examples"] == 128, saved
        assert results["accuracy"] == pytest.approx(summary["accuracy"]), saved
        assert results["top5_accuracy"] == pytest.approx(summary["top5_accuracy"]), saved
    written = json.loads((tmp_path / "eval" / "run" / "evaluation.json").read_text())
    assert written["accuracy"] == pytest.approx(summary["accuracy"])
    # --test-only evaluates the run's newest checkpoint.
    tested = train(tiny_config(tmp_path, test_only=True))
    assert tested["accuracy"] == pytest.approx(summary["accuracy"])
    with pytest.raises(ValueError, match=r"preprocesses differently.*pass --normalization cifar10"):
        train(tiny_config(tmp_path, evaluate=str(tmp_path / "export"), normalization="unit"))
    with pytest.raises(ValueError, match=r"not a .keras file, a .weights.h5 file, a checkpoint"):
        train(tiny_config(tmp_path, evaluate=str(tmp_path / "nothing")))


def test_replaying_the_summary_resolves_the_same_configuration(finished):
    tmp_path, _ = finished
    run = tmp_path / "run"
    stored = json.loads((run / reports.SUMMARY_JSON).read_text())["config"]
    from keras_classics.registry import get_entry
    from keras_classics.training.resolved import resolve_config
    from keras_classics.training.setup import load_source

    replayed = parse_config(["--config", str(run / reports.SUMMARY_JSON)])
    resolved = resolve_config(replayed, entry=get_entry("resnet20"), source=load_source(replayed))
    assert resolved.to_json() == stored
    # Flags override the stored options, and only those.
    changed = parse_config(["--config", str(run / CONFIG_JSON), "--epochs", "7", "--no-cache"])
    assert changed.epochs == 7
    assert changed.to_json() == {**stored["options"], "epochs": 7}


def test_resume_from_a_given_checkpoint_into_a_new_run(finished, capsys):
    tmp_path, _ = finished
    start = tmp_path / "run" / "checkpoints" / "ckpt-3"  # the end of epoch 1
    resumed = train(tiny_config(tmp_path / "branch", epochs=3, steps_per_epoch=3,
                                resume=str(start)))  # fmt: skip
    assert resumed["resumed_from"] == str(start)
    assert "resumed from " + str(start) + ": 1 epoch(s) done" in capsys.readouterr().out
    assert [r["epoch"] for r in reports.read_history(tmp_path / "branch" / "run")] == [2, 3]
    assert resumed["checkpoint"].endswith("branch/run/checkpoints/ckpt-9")
    with pytest.raises(ValueError, match=r"'nowhere' is not a checkpoint: give a checkpoint"):
        train(tiny_config(tmp_path / "branch", resume="nowhere"))


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    train(tiny_config(tmp_path, epochs=1, steps_per_epoch=2))
    good = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert "ckpt-2.index" in good
    with pytest.raises(
        DivergedError, match=r"NaN or infinite in epoch 2 .*last good checkpoint is .*ckpt-2"
    ):
        train(tiny_config(tmp_path, epochs=3, steps_per_epoch=2, learning_rate=1e30,
                          resume_changed=True))  # fmt: skip
    assert "resuming with changed options: " in capsys.readouterr().out
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
        ("--lr-warmup-method", "cubic", ["linear", "constant"]),
    ):
        with pytest.raises(SystemExit):
            parse_config([option, bad])
        err = capsys.readouterr().err
        assert f"argument {option}: invalid choice: '{bad}'" in err
        assert all(f"'{choice}'" in err for choice in choices), err
    with pytest.raises(SystemExit):
        parse_config(["--random-erase", "2"])
    assert "random_erase must lie in [0, 1]; got 2.0" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"unknown TFDS dataset 'nope'.*digits.*'synthetic'"):
        train(tiny_config(tmp_path, dataset="nope"))
    with pytest.raises(ValueError, match=r"multi_worker needs TF_CONFIG"):
        train(tiny_config(tmp_path, strategy="multi_worker"))
    with pytest.raises(ValueError, match=r"strategy tpu: no TPU found.*'auto', 'default'"):
        train(tiny_config(tmp_path, strategy="tpu"))
    with pytest.raises(ValueError, match=r"model option classes=7 but synthetic has 10 classes"):
        train(tiny_config(tmp_path, model_options={"classes": 7}))
