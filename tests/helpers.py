"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def run_python(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    """Runs `python *args` from the repository root; returns stdout, fails with its output."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def perturb_weights(model: keras.Model, rng: np.random.Generator) -> None:
    """Moves every weight away from its initial value, keeping activations in range.

    Each weight is scaled by U(0.5, 1.5); vectors (biases, BN gamma, beta, moving mean and
    variance) are also shifted by N(0, 0.05), so zero biases and means become non-zero while
    variances stay positive.
    """
    perturbed = []
    for weight in model.get_weights():
        weight = weight * rng.uniform(0.5, 1.5, weight.shape)
        if weight.ndim == 1:
            weight = weight + rng.normal(0.0, 0.05, weight.shape)
        perturbed.append(weight.astype("float32"))
    model.set_weights(perturbed)


def assert_safe_mode_round_trip(model: keras.Model, x: np.ndarray, directory: Path) -> keras.Model:
    """Saves `model` as `.keras`, reloads it with safe_mode=True, checks identical outputs."""
    path = Path(directory) / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(
        np.asarray(loaded(x, training=False)), np.asarray(model(x, training=False))
    )
    return loaded


def assert_close_to_scale(actual: Any, expected: Any, rel: float = 1e-4) -> None:
    """Max |actual - expected| within `rel` of max |expected|: for logits of deep nets, whose
    float32 rounding differs with the memory layout or the order of the sums."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    error, scale = np.abs(actual - expected).max(), np.abs(expected).max()
    assert error <= rel * scale, f"max difference {error:.3g} > {rel} x max |expected| {scale:.3g}"
