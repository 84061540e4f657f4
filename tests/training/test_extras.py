"""The flags beyond the papers through a real run's data and step: mixup and cutmix (soft
labels), random erasing, RandAugment, EMA and clipping on the synthetic set."""

from __future__ import annotations

import numpy as np
import pytest

from keras_classics.training.config import RunConfig
from keras_classics.training.run import build_trainer
from keras_classics.training.setup import Setup

TINY = {"model": "resnet20", "dataset": "synthetic", "train_crop_size": 8, "batch_size": 32}


def first_steps(tmp_path, steps: int = 6, **options) -> tuple[Setup, dict, np.ndarray]:
    """A run's first training batch and its totals after `steps` steps."""
    config = RunConfig(**TINY, output_dir=str(tmp_path), epochs=1, steps_per_epoch=steps,
                       deterministic=True, **options)  # fmt: skip
    setup = Setup(config)
    trainer, *_ = build_trainer(setup)
    data = setup.distributed(setup.source.train_split, training=True, seed=0)
    images, labels = next(iter(data))
    trainer.train_steps(iter(data), steps)
    return setup, trainer.train_totals.read(), (images.numpy(), labels.numpy())


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return first_steps(tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize("option", ["mixup_alpha", "cutmix_alpha"])
def test_mixing_gives_soft_labels_and_a_higher_training_loss(option, plain, tmp_path):
    _, totals, (_, labels) = first_steps(tmp_path, **{option: 1.0})
    assert labels.shape == (32, 10)
    np.testing.assert_allclose(labels.sum(-1), 1.0, atol=1e-5)
    assert ((labels > 0.01).sum(-1) == 2).mean() > 0.5  # most rows mix two classes
    # The mixed targets cannot be fitted as well as one class per image.
    assert totals["loss"] > plain[1]["loss"] + 0.05, (totals, plain[1])


def test_random_erasing_and_randaugment_change_the_images(plain, tmp_path):
    _, _, (images, labels) = plain
    assert labels.shape == (32,)
    for option in ({"random_erase": 1.0}, {"randaugment": 0.5}):
        _, totals, (changed, same_labels) = first_steps(tmp_path, steps=1, **option)
        np.testing.assert_array_equal(same_labels, labels)  # the same batch, other pixels
        assert np.abs(changed - images).mean() > 0.05, option
        assert np.isfinite(totals["loss"])
