"""The preprocessing record travels with the model: `.keras` in safe mode, JSON, every preset."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

import keras_classics as kc
from keras_classics.models.record import RecordedModel
from keras_classics.normalization import PreprocessingRecord

DIGITS = PreprocessingRecord.from_eval_view(
    normalization="cifar10",
    image_size=32,
    resize_size=32,
    class_names=[str(d) for d in range(10)],
    source="runs/resnet20_digits",
)


@pytest.fixture(scope="module")
def small_classifier() -> keras.Model:
    """A 1000-class model small enough to save 19 times: the record is what is tested."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(x), name="tiny")


def test_record_is_plain_json_and_checks_its_values():
    values = json.loads(json.dumps(DIGITS.to_dict()))
    assert PreprocessingRecord.from_dict(values) == DIGITS
    with pytest.raises(ValueError, match="unknown normalization 'imagenet'"):
        PreprocessingRecord("imagenet", 224, 256)
    with pytest.raises(ValueError, match="resize_size 200 must be at least image_size 224"):
        PreprocessingRecord("torch", 224, 200)
    with pytest.raises(ValueError, match=r"interpolation='area'.*'bilinear', 'bicubic'"):
        PreprocessingRecord("torch", 224, 256, "area")
    with pytest.raises(ValueError, match=r"unknown keys \['crop_pct'\]"):
        PreprocessingRecord.from_dict({**DIGITS.to_dict(), "crop_pct": 0.875})


def test_a_trained_model_saves_and_reloads_its_record_in_safe_mode(tmp_path, rng):
    model = kc.attach_record(kc.ResNet20(), DIGITS)
    assert kc.model_record(model) == DIGITS and kc.model_record(kc.ResNet20()) is None
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:  # plain JSON in config.json
        config = json.loads(archive.read("config.json"))
    assert config["config"]["preprocessing"] == DIGITS.to_dict()
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert isinstance(loaded, RecordedModel) and kc.model_record(loaded) == DIGITS
    x = rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict_on_batch(x), model.predict_on_batch(x))
    again = kc.attach_record(loaded, DIGITS.without_classes())
    assert kc.model_record(again).class_names is None and again.layers[1] is loaded.layers[1]


def test_every_preset_record_round_trips_through_keras_files(tmp_path, small_classifier):
    for preset in kc.list_presets():  # one test: the model is tiny, the record is tested
        record = kc.get_preset(preset).record
        kc.attach_record(small_classifier, record).save(tmp_path / f"{preset}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{preset}.keras", safe_mode=True)
        assert kc.model_record(loaded) == record and record.source == preset
