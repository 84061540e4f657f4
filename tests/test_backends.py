"""The models and layers are backend-agnostic Keras: they run on JAX without TensorFlow."""

from __future__ import annotations

from tests.helpers import run_python

JAX_CHECK = """
import sys
import numpy as np
import keras
import keras_classics as kc

assert keras.backend.backend() == "jax", keras.backend.backend()
assert "tensorflow" not in sys.modules, "importing keras_classics imported TensorFlow"
x = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype("float32")
for model in (kc.ResNet20(input_shape=(64, 64, 3)), kc.ResNet50(input_shape=(64, 64, 3),
              shortcut="A", stride_in_1x1=False)):
    probabilities = np.asarray(model(x))
    assert probabilities.shape == (2, model.output_shape[-1])
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
# LRN (keras.ops only) against the paper's formula, channels first and last, and the grouped
# paper AlexNet.
a = np.random.default_rng(1).normal(0, 100, (2, 3, 3, 7)).astype("float32")
energy = [(a[..., max(0, i - 2) : i + 3] ** 2).sum(-1) for i in range(7)]
expected = np.stack([a[..., i] / (2 + 1e-4 * energy[i]) ** 0.75 for i in range(7)], axis=-1)
lrn = kc.layers.LocalResponseNormalization
np.testing.assert_allclose(np.asarray(lrn()(a)), expected, rtol=1e-5)
first = lrn(data_format="channels_first")(a.transpose(0, 3, 1, 2))
np.testing.assert_allclose(np.asarray(first).transpose(0, 2, 3, 1), expected, rtol=1e-5)
alexnet = kc.AlexNet(classes=5)
assert np.asarray(alexnet(np.zeros((1, 224, 224, 3), "float32"))).shape == (1, 5)
print("macs", kc.count_macs(model), "tensorflow imported:", "tensorflow" in sys.modules)
# Keras's own file utilities import TensorFlow (tf.io.gfile) when it is installed, so the
# round trip comes after the check above.
path = sys.argv[1] + "/resnet50.keras"
model.save(path)
loaded = keras.saving.load_model(path, safe_mode=True)
np.testing.assert_allclose(np.asarray(loaded(x)), probabilities, rtol=1e-5, atol=1e-7)
print("round trip ok")
"""


def test_jax_backend_runs_without_tensorflow(tmp_path):
    out = run_python("-c", JAX_CHECK, str(tmp_path), env={"KERAS_BACKEND": "jax"})
    assert "tensorflow imported: False" in out and "round trip ok" in out
