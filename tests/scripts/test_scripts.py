"""The scripts as a user runs them (small sizes; the figures in docs come from full runs)."""

from __future__ import annotations

import argparse

import pytest

from keras_classics.cli import parse_model_option
from tests.helpers import run_python


def test_demo_prints_the_profile_and_runs_a_forward_pass():
    out = run_python(
        "scripts/demo.py", "--model", "resnet20", "--model-option", "classes=7", "--batch-size", "2"
    )
    assert "resnet20: 269,527 trainable" in out  # 269,722 - 65 * (10 - 7) for 7 classes
    assert "-> output (2, 7) float32" in out


def test_model_options_parse_as_literals():
    options = ["shortcut=A", "plain=True", "input_shape=(64, 64, 3)"]
    assert dict(map(parse_model_option, options)) == {
        "shortcut": "A",
        "plain": True,
        "input_shape": (64, 64, 3),
    }
    with pytest.raises(argparse.ArgumentTypeError, match="name=value"):
        parse_model_option("shortcut")
