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
