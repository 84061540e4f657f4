"""The custom training step on one device: exact arithmetic, precision, NaN, evaluation."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_classics.training.loop import Trainer, per_example_loss, per_replica_batch_size
from keras_classics.training.regularization import add_weight_decay


def tiny_model(classes: int = 3) -> keras.Model:
    """No BatchNormalization: the step's arithmetic is easy to recompute."""
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def arrays(rng, count: int = 16, classes: int = 3):
    images = rng.normal(size=(count, 6, 6, 3)).astype("float32")
    return images, rng.integers(0, classes, count).astype("int32")


def distributed(strategy, images, labels, batch, repeat=True):
    def dataset_fn(context):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        dataset = dataset.batch(context.get_per_replica_batch_size(batch), drop_remainder=repeat)
        return dataset.repeat() if repeat else dataset

    return strategy.distribute_datasets_from_function(dataset_fn)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_one_step_is_sgd_on_the_mean_loss_plus_weight_decay(jit_compile, rng):
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    add_weight_decay(model, 1e-2)
    images, labels = arrays(rng, 8)
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        data_loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(labels, model(images))
        )
        loss = data_loss + tf.add_n(model.losses)
    gradients = tape.gradient(loss, model.trainable_variables)
    trainer = Trainer(
        strategy, model, keras.optimizers.SGD(0.5), global_batch_size=8, jit_compile=jit_compile
    )
    trainer.train_steps(iter(distributed(strategy, images, labels, 8)), 1)
    for variable, start, gradient in zip(model.trainable_variables, before, gradients, strict=True):
        np.testing.assert_allclose(variable.numpy(), start - 0.5 * gradient.numpy(), atol=1e-6)
    results = trainer.train_totals.read()
    assert results["examples"] == 8 and results["nonfinite"] == 0
    assert results["loss"] == pytest.approx(float(data_loss), rel=1e-5)  # before the update
    assert int(trainer.optimizer.iterations.numpy()) == 1


def test_steps_in_one_execution_equal_steps_one_by_one(rng):
    strategy = tf.distribute.get_strategy()
    images, labels = arrays(rng, 32)
    weights = []
    for calls in ([4], [1, 1, 1, 1], [3, 1]):
        keras.utils.set_random_seed(7)
        model = tiny_model()
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
        trainer = Trainer(strategy, model, optimizer, global_batch_size=8)
        iterator = iter(distributed(strategy, images, labels, 8))
        for steps in calls:
            trainer.train_steps(iterator, steps)
        assert int(optimizer.iterations.numpy()) == 4
        assert trainer.train_totals.read()["examples"] == 32
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_label_smoothing_is_szegedys_formula(rng):
    probabilities = rng.dirichlet(np.ones(4), size=5).astype("float32")
    labels = np.array([0, 1, 2, 3, 1])
    targets = np.eye(4)[labels] * 0.9 + 0.1 / 4
    expected = -(targets * np.log(probabilities)).sum(-1)
    got = per_example_loss(labels, probabilities, num_classes=4, label_smoothing=0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step_keeps_float32_loss_and_weights(policy, rng):
    keras.config.set_dtype_policy(policy)
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    optimizer = keras.optimizers.SGD(0.1)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    trainer = Trainer(strategy, model, optimizer, global_batch_size=8)
    images, labels = arrays(rng, 16)
    assert model.get_layer("conv").compute_dtype == policy.split("_")[1]
    assert per_example_loss(labels, model(images), num_classes=3).dtype == tf.float32
    before = model.get_layer("conv").kernel.numpy()
    trainer.train_steps(iter(distributed(strategy, images, labels, 8)), 2)
    assert model.get_layer("conv").kernel.dtype == "float32"
    assert not np.array_equal(model.get_layer("conv").kernel.numpy(), before)
    results = trainer.train_totals.read()
    assert results["examples"] == 16 and np.isfinite(results["loss"]) and results["nonfinite"] == 0
    if policy == "mixed_float16":  # dynamic loss scaling ran (scale starts at 2**15)
        assert float(optimizer.dynamic_scale.numpy()) == 2.0**15


def test_nan_loss_is_counted(rng):
    strategy = tf.distribute.get_strategy()
    trainer = Trainer(strategy, tiny_model(), keras.optimizers.SGD(0.1), global_batch_size=4)
    images, labels = arrays(rng, 8)
    iterator = iter(distributed(strategy, images, labels, 4))
    trainer.train_steps(iterator, 1)
    assert trainer.nonfinite_steps() == 0
    images[4:] = np.nan  # the second batch
    iterator = iter(distributed(strategy, images, labels, 4))
    trainer.train_steps(iterator, 2)
    assert trainer.nonfinite_steps() == 1


def test_evaluation_sees_every_example_once_with_a_partial_batch(rng):
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    trainer = Trainer(strategy, model, None, global_batch_size=4)
    images, labels = arrays(rng, 10)
    results = trainer.evaluate(distributed(strategy, images, labels, 4, repeat=False))
    probabilities = np.asarray(model(images))
    assert results["examples"] == 10
    assert results["accuracy"] == pytest.approx(np.mean(probabilities.argmax(-1) == labels))
    expected = -np.log(probabilities[np.arange(10), labels]).mean()
    assert results["loss"] == pytest.approx(expected, rel=1e-5)
    assert results["top5_accuracy"] == 1.0  # 3 classes: top-3


def test_global_batch_must_split_evenly():
    assert per_replica_batch_size(128, 8) == 16
    with pytest.raises(
        ValueError,
        match=r"global batch size 100 must be a positive multiple of the 8 replica.*e\.g\. 96",
    ):
        per_replica_batch_size(100, 8)
