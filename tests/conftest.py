"""Shared fixtures: every test starts from Keras's defaults and leaves them as it found them."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def keras_defaults():
    """Seeds Keras, restores the data format and dtype policy, frees the graph after each test."""
    keras.utils.set_random_seed(1234)  # initial weights too: every test is reproducible
    data_format, policy = keras.config.image_data_format(), keras.config.dtype_policy()
    yield
    keras.config.set_image_data_format(data_format)
    keras.config.set_dtype_policy(policy)
    keras.utils.clear_session()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
