"""Fixtures of the export tests (the helpers behind them are in tests/export/shared.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.shared import build_main_export, shared_once


@pytest.fixture(scope="session")
def main_export(tmp_path_factory, worker_id) -> Path:
    """The shared directory: export/1 (the SavedModel), model.keras, images.npy (float inputs),
    encoded.npy and image{i}.{jpeg,png} (encoded images), reference.npz (the Keras model's
    probabilities on both, and the evaluation pipeline's preprocessed images)."""
    return shared_once(tmp_path_factory, worker_id, "main_export", build_main_export)
