"""Save/load round trips: `.keras` in safe mode and weights-only, for every depth and option."""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import pytest

import keras_classics as kc
from tests.helpers import assert_safe_mode_round_trip, perturb_weights

SMALL = (64, 64, 3)
CASES = [(depth, shortcut) for depth in (18, 34, 50, 101, 152) for shortcut in "ABC"]


def round_trip(model: keras.Model, tmp_path, rng, x: np.ndarray, rebuild) -> None:
    perturb_weights(model, rng)  # BN statistics included, so non-trainable weights count too
    expected = np.asarray(model(x, training=False))
    model.save_weights(tmp_path / "model.weights.h5")

    loaded = assert_safe_mode_round_trip(model, x, tmp_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]

    fresh = rebuild()
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(np.asarray(fresh(x, training=False)), expected)


@pytest.mark.parametrize(("depth", "shortcut"), CASES)
def test_imagenet_round_trip(tmp_path, rng, depth, shortcut):
    def build() -> keras.Model:
        return kc.ResNet(depth, shortcut=shortcut, input_shape=SMALL, classes=10)

    x = rng.uniform(0, 1, (2, 64, 64, 3)).astype("float32")
    round_trip(build(), tmp_path, rng, x, build)


VARIANTS = {
    "cifar20-A": partial(kc.ResNet20, shortcut="A"),
    "cifar20-B": partial(kc.ResNet20, shortcut="B"),
    "cifar20-C": partial(kc.ResNet20, shortcut="C"),
    "cifar20-plain": partial(kc.ResNet20, plain=True),
    "cifar20-zero-init": partial(kc.ResNet20, zero_init_residual=True),
    "plain34": partial(kc.ResNet34, plain=True, input_shape=SMALL),
    "resnet50-v1.5": partial(kc.ResNet50, stride_in_1x1=False, input_shape=SMALL),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_round_trip(tmp_path, rng, variant):
    build = VARIANTS[variant]
    model = build()
    x = rng.uniform(0, 1, (2, *model.input_shape[1:])).astype("float32")
    round_trip(model, tmp_path, rng, x, build)
