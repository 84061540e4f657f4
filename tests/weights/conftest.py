"""Fixtures of the weights tests: an empty Keras home, a published torchvision file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.weights.support import random_torchvision, save_published_torchvision


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty $KERAS_HOME: downloads and converted weights land there."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def resnet18_origin(tmp_path):
    """A random torchvision ResNet-18 saved as its published file would be."""
    source = random_torchvision("resnet18")
    return source, save_published_torchvision(source, tmp_path / "origin", "resnet18")
