"""make_dataset / distribute_dataset: batches, determinism, sharding, errors, extras."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from keras_classics.data import Extras, from_folder, load_digits, make_dataset
from keras_classics.normalization import get_normalization
from tests.helpers import run_python


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_training_batches_are_normalised_views_and_evaluation_keeps_every_image(digits):
    train = make_dataset(digits, "train", recipe="cifar", batch_size=64, training=True, seed=0)
    images, labels = next(iter(train))
    assert images.shape == (64, 32, 32, 3) and images.dtype == tf.float32
    assert labels.shape == (64,) and labels.dtype == tf.int32
    assert sum(1 for _ in train) == 1438 // 64  # partial batch dropped
    raw = get_normalization("cifar10").invert(images.numpy())
    assert raw.min() > -1 and raw.max() < 256  # back on the 0-255 scale
    evaluation = make_dataset(digits, "test", recipe="cifar", batch_size=64, training=False)
    assert sum(int(labels.shape[0]) for _, labels in evaluation) == 359
    first, _ = next(iter(evaluation))
    again, _ = next(iter(evaluation))
    np.testing.assert_array_equal(first, again)  # evaluation is not random


def test_a_seed_and_deterministic_mode_reproduce_batches_and_epochs_differ(digits):
    def first_two_epochs():
        dataset = make_dataset(
            digits,
            "train",
            recipe="cifar",
            batch_size=32,
            training=True,
            seed=7,
            deterministic=True,
        )
        return [next(iter(dataset)) for _ in range(2)]

    (epoch1, labels1), (epoch2, _) = first_two_epochs()
    (again1, again_labels1), _ = first_two_epochs()
    np.testing.assert_array_equal(epoch1, again1)
    np.testing.assert_array_equal(labels1, again_labels1)
    assert not np.array_equal(epoch1.numpy(), epoch2.numpy())  # new shuffle and views


def test_batch_size_errors(digits):
    with pytest.raises(ValueError, match="batch_size 2000 is larger than the 1438 images"):
        make_dataset(digits, "train", recipe="cifar", batch_size=2000, training=True)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        make_dataset(digits, "train", recipe="cifar", batch_size=0, training=True)
    with pytest.raises(
        ValueError, match=r"digits has no split 'validation'; choose one of \['train', 'test'\]"
    ):
        make_dataset(digits, "validation", recipe="cifar", batch_size=8, training=False)
    with pytest.raises(ValueError, match="unknown normalization 'imagenet'"):
        make_dataset(
            digits, "test", recipe="cifar", batch_size=8, training=False, normalization="imagenet"
        )
    # evaluation keeps partial batches, so a batch larger than the split is one batch
    batches = list(make_dataset(digits, "test", recipe="cifar", batch_size=1000, training=False))
    assert [int(labels.shape[0]) for _, labels in batches] == [359]


def _hashes(dataset) -> set[str]:
    return {
        hashlib.sha1(image.numpy().tobytes()).hexdigest()
        for images, _ in dataset
        for image in images
    }


def test_two_workers_read_disjoint_files(image_folder):
    source = from_folder(image_folder, validation_fraction=0.0)
    seen = [
        _hashes(
            make_dataset(
                source,
                "train",
                recipe="resnet",
                image_size=32,
                batch_size=2,
                training=False,
                input_context=tf.distribute.InputContext(2, worker, 1),
            )
        )
        for worker in (0, 1)
    ]
    everything = _hashes(
        make_dataset(source, "train", recipe="resnet", image_size=32, batch_size=2, training=False)
    )
    assert len(everything) == 18
    assert not seen[0] & seen[1] and seen[0] | seen[1] == everything
    assert len(seen[0]) == len(seen[1]) == 9


def test_image_folder_training_pipeline_with_cache(image_folder):
    source = from_folder(image_folder, validation_fraction=0.0)
    dataset = make_dataset(
        source, "train", recipe="alexnet", image_size=40, batch_size=6, training=True, cache=True
    )
    for _ in range(2):  # the second epoch reads the cache
        batches = list(dataset)
        assert len(batches) == 3
        assert all(images.shape == (6, 40, 40, 3) for images, _ in batches)
        labels = np.concatenate([labels.numpy() for _, labels in batches])
        assert np.bincount(labels).tolist() == [6, 6, 6]


def test_extras_give_soft_labels(digits):
    extras = Extras(randaugment=0.5, mixup=0.2, cutmix=1.0, label_smoothing=0.1)
    dataset = make_dataset(
        digits, "train", recipe="cifar", batch_size=16, training=True, seed=1, extras=extras
    )
    images, labels = next(iter(dataset))
    assert images.shape == (16, 32, 32, 3) and labels.shape == (16, 10)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, atol=1e-5)
    assert labels.numpy().min() >= 0.01 - 1e-6  # smoothing puts 0.1 / 10 everywhere
    assert (np.sort(labels.numpy(), axis=1)[:, -2] > 0.011).any()  # mixed two classes
    plain = next(iter(make_dataset(digits, "train", recipe="cifar", batch_size=16, training=True)))
    assert plain[1].shape == (16,)


def test_distribute_dataset_splits_the_global_batch_over_replicas():
    script = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_classics.data import distribute_dataset, load_digits
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
source = load_digits()
dataset = distribute_dataset(strategy, source, "train", global_batch_size=8, recipe="cifar",
                             training=True, image_size=16)
images, labels = next(iter(dataset))
print("per replica", [tuple(x.shape) for x in strategy.experimental_local_results(images)])
try:
    distribute_dataset(strategy, source, "train", global_batch_size=7, recipe="cifar",
                       training=True)
except ValueError as error:
    print("error:", error)
"""
    output = run_python("-c", script)
    assert "per replica [(4, 16, 16, 3), (4, 16, 16, 3)]" in output
    assert "error: global batch size 7 is not divisible by the 2 replicas" in output
