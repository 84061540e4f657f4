"""Export across the zoo's variety: custom layers, mixed precision, logits, channels_first, a
distribution strategy; and the clear errors for models or arguments it cannot serve."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_classics as kc
from keras_classics.export import export_saved_model, read_metadata
from keras_classics.export.samples import sample_encoded
from keras_classics.export.serving import serving_config
from tests.export.shared import calibrate_head, reference_preprocess
from tests.helpers import perturb_weights, run_python


def export_and_compare(
    model, tmp_path, rng, *, image_size, atol=1e-5, bytes_atol=1e-4, **export_kwargs
):
    """Exports `model`, loads it back, checks both predict signatures against the model: on
    float images within `atol`, on encoded images through the evaluation pipeline within
    `bytes_atol` (the pipeline's float32 rounding in a graph differs from eager by about 1e-7,
    which deep nets amplify). Returns the loaded export and the signatures' outputs."""
    normalization = export_kwargs.setdefault("normalization", "torch")
    images = rng.normal(0, 1, (3, image_size, image_size, 3)).astype("float32")
    encoded = [sample_encoded(90, 70, "jpeg", seed=1), sample_encoded(50, 80, "png", seed=2)]
    preprocessed = reference_preprocess(
        encoded, image_size, normalization, export_kwargs.get("resize_size")
    )
    version_dir = export_saved_model(
        model, tmp_path / "export", image_size=image_size, warmup=False, **export_kwargs
    )
    loaded = tf.saved_model.load(str(version_dir))
    outputs = {}
    for name, signature, inputs, keras_inputs, tolerance in (
        ("images", "serving_images", {"images": images}, images, atol),
        ("bytes", "serving_default", {"image_bytes": encoded}, preprocessed, bytes_atol),
    ):
        answer = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        assert answer["probabilities"].dtype == tf.float32
        expected = np.asarray(model(_model_layout(keras_inputs), training=False), np.float32)
        if read_metadata(version_dir)["softmax_logits"]:
            expected = np.asarray(tf.nn.softmax(expected))
        np.testing.assert_allclose(
            answer["probabilities"].numpy(), expected, rtol=0, atol=tolerance, err_msg=name
        )
        outputs[name] = answer
    return loaded, outputs


def _model_layout(x: np.ndarray) -> np.ndarray:
    if keras.config.image_data_format() == "channels_first":
        return np.transpose(x, (0, 3, 1, 2))
    return x


def test_alexnet_with_lrn_and_grouped_convolutions(tmp_path, rng):
    """The paper AlexNet's convolutional part (LocalResponseNormalization, two towers) with a
    small classifier: custom layers need no Python code in the SavedModel."""
    trunk = kc.AlexNet(include_top=False, pooling="avg", input_shape=(67, 67, 3))
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(trunk.output)
    model = keras.Model(trunk.input, outputs)
    perturb_weights(model, rng)
    calibrate_head(model, rng.normal(0, 1, (8, 67, 67, 3)).astype("float32"))
    assert any(isinstance(layer, kc.layers.LocalResponseNormalization) for layer in model.layers)
    # The bytes path's in-graph resize rounds differently from eager by about 1e-7 per pixel;
    # LRN's x^-0.75 and the two towers amplify it to 1.6e-4 on these probabilities (measured
    # 2026-11-30, TF 2.21 with oneDNN); the float path stays within 1e-5.
    export_and_compare(model, tmp_path, rng, image_size=67, bytes_atol=5e-4)


@pytest.mark.parametrize(
    ("policy", "build"),
    [
        ("mixed_float16", lambda: kc.ResNet18(classes=10, input_shape=(64, 64, 3))),
        ("mixed_bfloat16", lambda: kc.get_model("resnet20")),
    ],
)
def test_mixed_precision_outputs_float32(tmp_path, rng, policy, build):
    keras.config.set_dtype_policy(policy)
    model = build()
    assert model.get_layer("predictions").compute_dtype != "float32"
    size = model.input_shape[1]
    # Float inputs: the same float16/bfloat16 graph, exactly equal (measured 0.0). Encoded
    # images: pixels 1e-7 apart may round to neighbouring float16 values (measured 2.3e-4).
    export_and_compare(model, tmp_path, rng, image_size=size, resize_size=size, bytes_atol=2e-3)


def test_logits_model_serves_softmax_probabilities(tmp_path, rng):
    model = kc.get_model("resnet20", classifier_activation=None, input_shape=(None, None, 3))
    perturb_weights(model, rng)
    _, outputs = export_and_compare(model, tmp_path, rng, image_size=40, normalization="cifar10")
    assert read_metadata(tmp_path / "export" / "1")["softmax_logits"] is True
    sums = outputs["images"]["probabilities"].numpy().sum(axis=-1)
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)


def test_channels_first_model_takes_channels_last_images(tmp_path, rng):
    keras.config.set_image_data_format("channels_first")
    model = kc.get_model("resnet20")
    assert model.input_shape == (None, 3, 32, 32)
    perturb_weights(model, rng)
    loaded, _ = export_and_compare(model, tmp_path, rng, image_size=32)
    assert loaded.signatures["serving_images"].structured_input_signature[1][
        "images"
    ].shape.as_list() == [None, 32, 32, 3]


STRATEGY_SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import keras_classics as kc
from keras_classics.export import export_saved_model

keras.utils.set_random_seed(0)  # an unseeded random ResNet-20 can answer alike for any input

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = kc.get_model("resnet20", classes=4)
    inside = export_saved_model(model, sys.argv[1] + "/inside", normalization="cifar10")
outside = export_saved_model(model, sys.argv[1] + "/outside", normalization="cifar10")
x = np.random.default_rng(0).normal(0, 1, (3, 32, 32, 3)).astype("float32")
expected = np.asarray(model(x, training=False))
diffs = {}
for name, path in (("inside", inside), ("outside", outside)):
    loaded = tf.saved_model.load(str(path))
    got = loaded.signatures["serving_images"](images=tf.constant(x))["probabilities"].numpy()
    diffs[name] = float(np.abs(got - expected).max())
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "variable": type(model.weights[0].value).__name__,
    "diffs": diffs,
    "spread": float(np.abs(np.diff(expected, axis=0)).max()),
}))
"""


def test_model_built_in_a_mirrored_strategy_scope(tmp_path):
    """Logical CPU devices must exist before TensorFlow initialises: a fresh process."""
    out = run_python("-c", STRATEGY_SCRIPT, str(tmp_path))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["variable"] == "MirroredVariable"
    assert result["spread"] > 1e-3  # the inputs give different outputs (0.013 with seed 0)
    assert result["diffs"]["inside"] <= 1e-5 and result["diffs"]["outside"] <= 1e-5
    assert Path(tmp_path / "inside" / "1" / "saved_model.pb").is_file()


def tiny(input_shape=(8, 8, 3), activation="softmax", classes=3) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation=activation)(x))


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (lambda: tiny(activation="sigmoid"), {}, "has activation 'sigmoid'; exporting needs"),
        (lambda: tiny((8, 8, 1)), {}, "serving needs 3 RGB channels"),
        (lambda: tiny((8, 6, 3)), {}, "takes 8x6 inputs; serving feeds square"),
        (lambda: tiny((None, None, 3)), {}, "accepts any input size: pass image_size"),
        (lambda: tiny(), {"image_size": 16}, "image_size=16 but model"),
        (lambda: tiny(), {"class_names": ["a", "b"]}, "got 2 class names for a model with 3"),
        (lambda: tiny(), {"class_names": ["a", "", "c"]}, "entries [1] are not"),
        (lambda: tiny(), {"class_names": "abc"}, "not one string"),
        (lambda: tiny(), {"top_k": 0}, "top_k must be a positive int"),
        (lambda: tiny(), {"resize_size": 6}, "resize_size must be an int >= image_size 8"),
        (lambda: tiny(), {"normalization": "imagenet"}, "choose one of ['torch', 'caffe'"),
        (
            lambda: kc.get_model("resnet20", include_top=False),
            {},
            "must output one [batch, classes] tensor",
        ),
    ],
)
def test_unservable_models_and_bad_arguments_raise_clear_errors(model, kwargs, message):
    with pytest.raises(ValueError) as error:
        serving_config(model(), **kwargs)
    assert message in str(error.value)


def test_top_k_is_capped_at_the_number_of_classes():
    assert serving_config(tiny(classes=3), top_k=5).top_k == 3
