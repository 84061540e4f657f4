"""Export serves the model's own preprocessing record; contradicting it is an error."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import tensorflow as tf

import keras_classics as kc
from keras_classics.data.evaluation import decode_image, preprocess_with_record
from keras_classics.export import export_saved_model, read_metadata
from keras_classics.export.samples import sample_encoded
from keras_classics.export.serving import serving_config
from keras_classics.normalization import PreprocessingRecord
from tests.export.shared import calibrate_head
from tests.helpers import perturb_weights

RECORD = PreprocessingRecord.from_eval_view(
    normalization="cifar10",
    image_size=32,
    resize_size=32,
    class_names=[f"digit {i}" for i in range(10)],
    source="runs/digits",
)


@pytest.fixture(scope="module")
def recorded_model():
    rng = np.random.default_rng(3)
    model = kc.ResNet20()
    perturb_weights(model, rng)
    calibrate_head(model, rng.normal(0, 1, (8, 32, 32, 3)).astype("float32"))
    return kc.attach_record(model, RECORD)


def test_a_model_with_a_record_is_served_with_it_by_default(tmp_path, recorded_model):
    version_dir = export_saved_model(recorded_model, tmp_path, warmup=False)
    metadata = read_metadata(version_dir)
    served = PreprocessingRecord.from_dict(metadata["preprocessing"])
    assert served == dataclasses.replace(RECORD, source=served.source)
    assert metadata["preprocessing_from"] == "the model's record (runs/digits)"
    assert (metadata["normalization"], metadata["resize_size"]) == ("cifar10", 32)
    encoded = [sample_encoded(45, 60, "jpeg", seed=1), sample_encoded(32, 32, "png", seed=2)]
    answer = tf.saved_model.load(str(version_dir)).signatures["serving_default"](
        image_bytes=tf.constant(encoded)
    )
    inputs = np.stack([preprocess_with_record(decode_image(e), RECORD) for e in encoded])
    expected = np.asarray(recorded_model(inputs, training=False))
    np.testing.assert_allclose(answer["probabilities"].numpy(), expected, atol=1e-4)
    top = [RECORD.class_names[i] for i in expected.argmax(axis=1)]
    assert [n.decode() for n in answer["class_names"].numpy()[:, 0]] == top


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"normalization": "mean"}, r"normalization='mean' but the record says 'cifar10'"),
        ({"resize_size": 37}, r"resize_size=37 but the record says 32"),
        ({"class_names": list("abcdefghij")}, r"class_names=10 names \(a, b, c, \.\.\.\)"),
    ],
)
def test_arguments_that_contradict_the_record_are_an_error(
    tmp_path, recorded_model, kwargs, message
):
    with pytest.raises(
        ValueError, match=rf"contradict the preprocessing record.*{message}.*override_record"
    ):
        export_saved_model(recorded_model, tmp_path, warmup=False, **kwargs)
    assert not tmp_path.joinpath("1").exists()


def test_override_record_forces_the_arguments(recorded_model):
    config = serving_config(recorded_model, normalization="mean", override_record=True)
    assert (config.normalization, config.resize_size) == ("mean", 32)
    assert config.preprocessing_from.endswith("overridden: normalization")
    agreeing = serving_config(recorded_model, normalization="cifar10", image_size=32)
    assert agreeing.record == dataclasses.replace(RECORD, source=agreeing.preprocessing_from)


def test_a_model_without_a_record_says_what_was_assumed(caplog):
    with caplog.at_level(logging.WARNING, logger="keras_classics.export.serving"):
        config = serving_config(kc.ResNet20(), resize_size=32)
    assert config.normalization == "mean"
    assumed = "the model has no record, so assumed normalization='mean', image_size=the model's"
    assert assumed in config.preprocessing_from and assumed in caplog.text
    assert "resize_size" not in config.preprocessing_from  # it was given
