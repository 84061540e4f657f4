"""The custom training step on one device: exact arithmetic, precision, NaN, evaluation, honest
top-k, soft labels, gradient clipping, EMA weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_classics.training.loop import (
    Totals,
    Trainer,
    per_example_loss,
    per_replica_batch_size,
    true_class_rank,
)
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


def test_top_k_counts_ties_against_the_model():
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        totals = Totals("test", num_classes=10)
    # Row 0: nine classes at exactly 0 (float32 softmax underflow), the true class among
    # them: 1 class higher, 8 tied, so rank 10. Row 1: all tied. Row 2: the true class is
    # second, no ties. Row 3: a NaN output is never a hit.
    outputs = np.zeros((4, 10), "float32")
    outputs[0, 3] = 1.0
    outputs[1] = 0.1
    outputs[2] = np.linspace(0.0, 0.9, 10)
    outputs[3] = np.nan
    labels = np.array([7, 2, 8, 0])
    strategy.run(totals.add, args=(labels, outputs, np.zeros(4, "float32"), True))
    results = totals.read()
    assert results["accuracy"] == 0.0
    assert results["top5_accuracy"] == 0.25  # row 2 only (tf.math.in_top_k counts 3 of 4)
    ranks = true_class_rank(tf.constant(labels), tf.constant(outputs)).numpy()
    assert ranks.tolist() == [10, 10, 2, 11]


def test_soft_labels_train_on_their_cross_entropy(rng):
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    images, _ = arrays(rng, 8)
    soft = rng.dirichlet(np.ones(3), size=8).astype("float32")  # as mixup / cutmix make
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(-tf.reduce_sum(soft * tf.math.log(model(images)), -1))
    gradients = tape.gradient(loss, model.trainable_variables)
    trainer = Trainer(strategy, model, keras.optimizers.SGD(0.5), global_batch_size=8)
    trainer.train_steps(iter(distributed(strategy, images, soft, 8)), 1)
    for variable, start, gradient in zip(model.trainable_variables, before, gradients, strict=True):
        np.testing.assert_allclose(variable.numpy(), start - 0.5 * gradient.numpy(), atol=1e-6)
    results = trainer.train_totals.read()
    assert results["loss"] == pytest.approx(float(loss), rel=1e-5)
    # Accuracy counts the soft label's largest entry as the class.
    predictions = np.asarray(tiny_model_outputs(before, images)).argmax(-1)
    assert results["accuracy"] == pytest.approx(np.mean(predictions == soft.argmax(-1)))


def tiny_model_outputs(weights, images):
    model = tiny_model()
    model.set_weights(weights)
    return model(images)


def test_clipping_bounds_the_global_norm_of_the_update(rng):
    strategy = tf.distribute.get_strategy()
    images, labels = arrays(rng, 8)
    updates = {}
    for clip in (None, 1e-3):
        keras.utils.set_random_seed(3)
        model = tiny_model()
        before = [v.numpy() for v in model.trainable_variables]
        trainer = Trainer(
            strategy, model, keras.optimizers.SGD(0.5), global_batch_size=8, clip_grad_norm=clip
        )
        trainer.train_steps(iter(distributed(strategy, images, labels, 8)), 1)
        deltas = [v.numpy() - b for v, b in zip(model.trainable_variables, before, strict=True)]
        updates[clip] = deltas
    norm = lambda deltas: np.sqrt(sum((d**2).sum() for d in deltas)) / 0.5  # noqa: E731
    assert norm(updates[None]) > 1e-2  # the unclipped gradient is far above the bound
    assert norm(updates[1e-3]) == pytest.approx(1e-3, rel=1e-4)
    # Clipping scales the gradient: the direction stays (cosine 1 up to float32 rounding of
    # the small update).
    clipped, plain = (np.concatenate([d.ravel() for d in updates[c]]) for c in (1e-3, None))
    cosine = clipped @ plain / np.linalg.norm(clipped) / np.linalg.norm(plain)
    assert cosine == pytest.approx(1.0, abs=1e-5)


def test_ema_weights_are_the_moving_average_and_evaluate(rng):
    strategy = tf.distribute.get_strategy()
    model = tiny_model()
    optimizer = keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.9)
    trainer = Trainer(strategy, model, optimizer, global_batch_size=8)
    images, labels = arrays(rng, 16)
    iterator = iter(distributed(strategy, images, labels, 8))
    trainer.train_steps(iterator, 1)
    first = [v.numpy() for v in model.trainable_variables]  # the average starts here
    trainer.train_steps(iterator, 1)
    second = [v.numpy() for v in model.trainable_variables]
    data = distributed(strategy, images, labels, 8, repeat=False)
    raw = trainer.evaluate(data)
    assert trainer.has_ema
    with trainer.ema_weights():
        averaged = [v.numpy() for v in model.trainable_variables]
        ema = trainer.evaluate(data)
    for a, w1, w2 in zip(averaged, first, second, strict=True):
        np.testing.assert_allclose(a, 0.9 * w1 + 0.1 * w2, atol=1e-6)
    assert ema["loss"] != pytest.approx(raw["loss"], rel=1e-6)
    # Leaving the context puts the trained weights back.
    for variable, w2 in zip(model.trainable_variables, second, strict=True):
        np.testing.assert_array_equal(variable.numpy(), w2)
