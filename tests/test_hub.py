"""keras_classics.hub: keras-hub presets of keras_classics models round-trip exactly."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_classics as kc
from tests.helpers import perturb_weights, run_python

keras_hub = pytest.importorskip("keras_hub", reason="keras-hub is not installed (extra `hub`)")
hub = pytest.importorskip("keras_classics.hub")
tf = pytest.importorskip("tensorflow")

CIFAR = kc.PreprocessingRecord(
    "cifar10", 32, 32, class_names=tuple(f"class{i}" for i in range(10)), source="test"
)
# The paper AlexNet's convolutional part (LRN, two towers) with a 5-class head on a small input
# (67 pixels, as tests/export/test_models.py).
ALEXNET = kc.PreprocessingRecord("mean", 67, 77, "bicubic", class_names=tuple("abcde"))


def evaluation_view(image: np.ndarray, record: kc.PreprocessingRecord) -> np.ndarray:
    from keras_classics.data.evaluation import preprocess_with_record

    return preprocess_with_record(tf.constant(image), record).numpy()


def resnet20() -> keras.Model:
    return kc.attach_record(kc.ResNet20(input_shape=(32, 32, 3)), CIFAR)


def alexnet_lrn() -> keras.Model:
    """Its head is a softmax Dense without `predictions_activation` (ResNet-20 has one)."""
    trunk = kc.AlexNet(include_top=False, pooling="avg", input_shape=(67, 67, 3))
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(trunk.output)
    return kc.attach_record(keras.Model(trunk.input, outputs, name="alexnet"), ALEXNET)


@pytest.fixture(scope="module")
def presets(tmp_path_factory) -> dict[str, tuple[keras.Model, Path]]:
    """Model name -> (the model, its preset directory), weights moved off their initial values."""
    saved = {}
    for build in (resnet20, alexnet_lrn):
        model = build()
        perturb_weights(model, np.random.default_rng(0))
        path = tmp_path_factory.mktemp(model.name) / "preset"
        hub.classifier(model).save_to_preset(str(path))
        saved[model.name] = model, path
    return saved


@pytest.fixture(params=["resnet20", "alexnet"])
def saved(request, presets) -> tuple[keras.Model, Path]:
    return presets[request.param]


def _inputs(model: keras.Model, count: int = 3) -> np.ndarray:
    size = model.input_shape[1]
    return np.random.default_rng(1).normal(0, 50, (count, size, size, 3)).astype("float32")


def test_image_classifier_from_preset_equals_the_model(saved):
    model, path = saved
    restored = keras_hub.models.ImageClassifier.from_preset(str(path))
    assert isinstance(restored, hub.ClassicsImageClassifier)
    assert isinstance(restored.backbone, hub.ClassicsBackbone)
    # Rebuilt from the preset's config and weights files, not the original's layers.
    assert not {id(w) for w in restored.weights} & {id(w) for w in model.weights}
    x = _inputs(model)
    assert np.abs(np.asarray(restored(x)) - np.asarray(model(x))).max() == 0.0
    lrn = kc.layers.LocalResponseNormalization
    has_lrn = any(isinstance(layer, lrn) for layer in restored.backbone.layers)
    assert has_lrn == (model.name == "alexnet")


def test_converter_record_round_trips_and_predict_preprocesses(saved):
    model, path = saved
    restored = keras_hub.models.ImageClassifier.from_preset(str(path))
    converter = restored.preprocessor.image_converter
    assert isinstance(converter, hub.RecordImageConverter)
    assert converter.preprocessing == kc.model_record(model)
    loaded = keras_hub.layers.ImageConverter.from_preset(str(path))
    assert loaded.preprocessing == kc.model_record(model)
    # predict() runs the converter on raw uint8 images of another size in its tf.data pipeline.
    images = np.random.default_rng(2).integers(0, 256, (2, 90, 120, 3), dtype=np.uint8)
    record = kc.model_record(model)
    views = np.stack([evaluation_view(image, record) for image in images])
    expected = model.predict(views, verbose=0)
    assert np.abs(restored.predict(images, verbose=0) - expected).max() == 0.0


def test_backbone_from_preset_gives_the_penultimate_features(saved):
    model, path = saved
    backbone = keras_hub.models.Backbone.from_preset(str(path))
    assert isinstance(backbone, hub.ClassicsBackbone)
    x = _inputs(model)
    features = keras.Model(model.input, model.get_layer("predictions").input)(x)
    output = np.asarray(backbone(x))
    assert output.shape == (len(x), 1, 1, features.shape[-1])
    assert np.abs(output[:, 0, 0] - np.asarray(features)).max() == 0.0


PHOTO_RECORDS = [
    kc.PreprocessingRecord("torch", 224, 256),
    kc.PreprocessingRecord("caffe", 224, 256, "bicubic"),
    kc.PreprocessingRecord("cifar10", 32, 32),
]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return np.asarray(load_sample_image("china.jpg"))


@pytest.mark.parametrize("record", PHOTO_RECORDS, ids=lambda r: r.normalization)
def test_converter_equals_the_evaluation_view_on_a_photo(photo, record):
    """Measured difference: 0.0 (the converter runs `preprocess_with_record` itself), for one
    image, a batch and inside tf.data; keras-hub's stock converter set as close as it goes
    differs by up to 2.1 in normalised units even at the same field of view (docs)."""
    expected = evaluation_view(photo, record)
    converter = hub.RecordImageConverter(record)
    assert np.asarray(converter(photo)).shape == (record.image_size, record.image_size, 3)
    assert np.abs(np.asarray(converter(photo)) - expected).max() == 0.0
    assert np.abs(np.asarray(converter(np.stack([photo, photo]))) - expected).max() == 0.0
    (mapped,) = tf.data.Dataset.from_tensors(photo).map(converter).as_numpy_iterator()
    assert np.abs(mapped - expected).max() == 0.0


def test_converter_follows_the_image_data_format():
    images = np.random.default_rng(3).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
    record = kc.PreprocessingRecord("torch", 8, 10)
    last = np.asarray(hub.RecordImageConverter(record)(images))
    keras.config.set_image_data_format("channels_first")
    first = np.asarray(hub.RecordImageConverter(record)(images))
    assert first.shape == (2, 3, 8, 8)
    assert np.abs(first - last.transpose(0, 3, 1, 2)).max() == 0.0


def test_converter_rejects_what_it_cannot_take():
    with pytest.raises(ValueError, match="PreprocessingRecord"):
        hub.RecordImageConverter("torch")
    with pytest.raises(ValueError, match=r"\[H, W, 3\] or \[N, H, W, 3\]"):
        hub.RecordImageConverter(CIFAR)(np.zeros((32, 32), "uint8"))


def test_only_a_classifier_ending_in_its_head_is_wrapped():
    with pytest.raises(ValueError, match=r"no 'predictions' layer.*include_top=True"):
        hub.backbone(kc.ResNet20(include_top=False, input_shape=(32, 32, 3)))
    model = kc.ResNet20(input_shape=(32, 32, 3))
    extended = keras.Model(model.input, keras.layers.Identity(name="extra")(model.output))
    with pytest.raises(ValueError, match="must end in its classifier"):
        hub.classifier(extended)
    keras.config.set_dtype_policy("mixed_float16")
    with pytest.raises(ValueError, match=r"wraps float32 models.*'mixed_float16'"):
        hub.classifier(kc.ResNet20(input_shape=(32, 32, 3)))


def test_a_fresh_process_loads_the_preset_with_its_custom_layers(presets, tmp_path):
    """`import keras_classics` imports no keras_hub; `kc.hub` does, and registers what the
    preset of the LRN model needs: its outputs there equal the original's exactly."""
    model, path = presets["alexnet"]
    x = _inputs(model)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np, keras_classics as kc\n"
        "assert 'keras_hub' not in sys.modules, 'import keras_classics imported keras_hub'\n"
        "kc.hub\n"
        "import keras_hub\n"
        f"restored = keras_hub.models.ImageClassifier.from_preset({str(path)!r})\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, restored(np.load({str(tmp_path / 'x.npy')!r})))\n"
    )
    run_python("-c", code)
    assert np.abs(np.load(tmp_path / "y.npy") - np.asarray(model(x))).max() == 0.0


def test_missing_keras_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    monkeypatch.delitem(sys.modules, "keras_classics.hub")
    with pytest.raises(ImportError, match=r"pip install keras_classics\[hub\]"):
        __import__("keras_classics.hub")


@pytest.mark.parametrize(
    ("activation", "from_logits"), [("softmax", False), (None, True)], ids=["softmax", "linear"]
)
def test_default_compile_matches_the_head(activation, from_logits, tmp_path):
    """keras-hub compiles in `Task.__init__` before it sets `activation`, so its "auto" loss
    took logits even after a softmax (Keras warned, and fine-tuning trained on the wrong loss)."""
    model = kc.attach_record(
        kc.ResNet20(input_shape=(32, 32, 3), classifier_activation=activation), CIFAR
    )
    hub.classifier(model).save_to_preset(str(tmp_path / "preset"))
    restored = keras_hub.models.ImageClassifier.from_preset(str(tmp_path / "preset"))
    assert restored.loss.get_config()["from_logits"] is from_logits
    restored.compile()
    assert restored.loss.get_config()["from_logits"] is from_logits
    images = np.random.default_rng(4).integers(0, 256, (4, 40, 50, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*from_logits")
        history = restored.fit(images, np.arange(4), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_default_compile_refuses_another_head_activation():
    model = kc.ResNet20(input_shape=(32, 32, 3), classifier_activation="sigmoid")
    task = hub.classifier(model, CIFAR)
    assert getattr(task, "optimizer", None) is None  # not compiled with a loss that does not fit
    with pytest.raises(ValueError, match=r"activation is 'sigmoid': pass loss= explicitly"):
        task.compile()
    task.compile(loss="binary_crossentropy")


def test_classifier_takes_a_keras_file(presets, tmp_path):
    """`kc.hub.classifier("model.keras")`, as scripts/train.py writes them."""
    model, _ = presets["resnet20"]
    path = tmp_path / "model.keras"
    model.save(path)
    x = _inputs(model)
    for given in (str(path), path):
        task = hub.classifier(given)
        assert task.preprocessor.image_converter.preprocessing == kc.model_record(model)
        assert np.abs(np.asarray(task(x)) - np.asarray(model(x))).max() == 0.0
    with pytest.raises(ValueError, match=r"keras.Model or the path of a .keras file; got int"):
        hub.classifier(3)


def test_a_model_without_a_record_says_it_takes_preprocessed_inputs():
    model = kc.ResNet20(input_shape=(32, 32, 3))
    with pytest.warns(UserWarning, match=r"no preprocessing record.*preprocessed inputs") as caught:
        task = hub.classifier(model)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert task.preprocessor is None
    x = _inputs(model)
    assert np.abs(np.asarray(task(x)) - np.asarray(model(x))).max() == 0.0


def test_converter_takes_grayscale_and_alpha_as_the_decoder_does():
    """As `decode_image` (`channels=3`): grayscale replicated, alpha dropped."""
    rgb = np.random.default_rng(5).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
    gray = rgb[..., :1]
    record = kc.PreprocessingRecord("torch", 8, 10)
    converter = hub.RecordImageConverter(record)
    expected_gray = np.asarray(converter(np.repeat(gray, 3, axis=-1)))
    assert np.abs(np.asarray(converter(gray)) - expected_gray).max() == 0.0
    assert np.abs(np.asarray(converter(gray[0])) - expected_gray[0]).max() == 0.0
    gray_alpha = np.concatenate([gray, np.full_like(gray, 7)], axis=-1)
    assert np.abs(np.asarray(converter(gray_alpha)) - expected_gray).max() == 0.0
    rgba = np.concatenate([rgb, np.full_like(gray, 7)], axis=-1)
    assert np.abs(np.asarray(converter(rgba)) - np.asarray(converter(rgb))).max() == 0.0
    with pytest.raises(ValueError, match=r"RGB \[H, W, 3\].*got shape \(2, 20, 30, 5\)"):
        converter(np.zeros((2, 20, 30, 5), "uint8"))


def test_hub_on_the_serving_decode_equals_the_evaluation_pipeline(tmp_path):
    """predict.py, the bytes signature and evaluation decode JPEG bytes with
    `decode_image(encoded, min_side=record.resize_size)` (scaled JPEG decoding): the hub
    classifier on that decode equals the model on the evaluation view of it; a full-size decode
    does not (docs). A linear head: logits show the difference that saturated softmax hides."""
    import sklearn.datasets

    from keras_classics.data.decode import decode_image

    model = kc.attach_record(
        kc.ResNet20(input_shape=(32, 32, 3), classifier_activation=None), CIFAR
    )
    perturb_weights(model, np.random.default_rng(0))
    hub.classifier(model).save_to_preset(str(tmp_path / "preset"))
    restored = keras_hub.models.ImageClassifier.from_preset(str(tmp_path / "preset"))
    encoded = tf.io.read_file(str(Path(sklearn.datasets.__file__).parent / "images" / "china.jpg"))
    images = decode_image(encoded, min_side=CIFAR.resize_size)
    assert images.shape == (214, 320, 3)  # decoded at 1/2: 427x640 >= 4 x 32 at that scale
    expected = model.predict(evaluation_view(images.numpy(), CIFAR)[None], verbose=0)
    assert np.abs(restored.predict(images[None], verbose=0) - expected).max() <= 1e-5
    full = restored.predict(tf.io.decode_jpeg(encoded, channels=3)[None], verbose=0)
    assert np.abs(full - expected).max() > 1e-3
