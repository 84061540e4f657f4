"""scripts/convert_weights.py as a user runs it, on a small torchvision checkpoint."""

from __future__ import annotations

import re

import numpy as np

import keras_classics as kc
from tests.helpers import assert_close_to_scale, run_python
from tests.weights.support import random_torchvision, torch_logits


def test_converts_a_state_dict_into_a_weights_file(tmp_path, rng):
    source = random_torchvision("resnet18", num_classes=7)
    np.savez(tmp_path / "r18.npz", **{k: v.numpy() for k, v in source.state_dict().items()})
    output = tmp_path / "r18.weights.h5"
    out = run_python(
        "scripts/convert_weights.py",
        str(tmp_path / "r18.npz"),
        str(output),
        "--model",
        "resnet18",
        "--model-option",
        "classes=7",
    )
    assert re.search(r"r18\.npz \(torchvision\) -> resnet18 \{'classes': 7\}", out), out
    ours = kc.ResNet18(
        classes=7, weights=output, input_shape=(64, 64, 3), classifier_activation=None
    )
    assert f"\n{ours.count_params():,} parameters; build " in out
    x = rng.normal(size=(2, 64, 64, 3)).astype("float32")
    assert_close_to_scale(ours(x, training=False), torch_logits(source, x))
