"""The papers' recipes, linear scaling, schedules' values at given steps, weight decay targets."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_classics.training import recipes, schedules
from keras_classics.training.regularization import add_weight_decay, decayed_variables


@pytest.mark.parametrize(
    ("family", "lr", "batch", "decay", "schedule"),
    [
        ("alexnet", 0.01, 128, 5e-4, "plateau"),  # AlexNet section 5
        ("vgg", 0.01, 256, 5e-4, "plateau"),  # VGG 3.1
        ("resnet", 0.1, 256, 1e-4, "plateau"),  # ResNet 3.4
        ("resnet_cifar", 0.1, 128, 1e-4, "step"),  # ResNet 4.2
    ],
)
def test_paper_hyperparameters_per_family(family, lr, batch, decay, schedule):
    hp = recipes.resolve(family, train_examples=10_000)
    assert (hp.learning_rate, hp.global_batch_size, hp.weight_decay) == (lr, batch, decay)
    assert hp.momentum == 0.9 and hp.schedule_name == schedule
    assert hp.l2 == decay / 2  # PAPERS.md: wd 5e-4 = keras l2(2.5e-4), 1e-4 = l2(5e-5)
    # Twice or half the paper's batch: the rate follows linearly (Goyal et al. 2017).
    assert recipes.resolve(
        family, train_examples=10_000, global_batch_size=2 * batch
    ).learning_rate == pytest.approx(2 * lr)
    assert recipes.resolve(
        family, train_examples=10_000, global_batch_size=batch // 2
    ).learning_rate == pytest.approx(lr / 2)
    # An explicit rate is used as given.
    assert (
        recipes.resolve(
            family, train_examples=10_000, global_batch_size=2 * batch, learning_rate=0.5
        ).learning_rate
        == 0.5
    )


def test_cifar_schedule_is_the_papers_32k_48k_64k_iterations():
    hp = recipes.resolve("resnet_cifar", dataset="cifar10", train_examples=50_000)
    assert hp.epochs == 164 and hp.steps_per_epoch == 390  # 50,000 // 128
    assert hp.total_steps == pytest.approx(64_000, rel=0.001)
    assert hp.boundaries == pytest.approx((32_000, 48_000), rel=0.001)
    rate = hp.make_schedule()
    assert [float(rate(s)) for s in (0, 31_979, 31_980, 47_969, 47_970)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001]
    )
    # Four times the batch: a quarter of the steps, the same epochs, four times the rate.
    big = recipes.resolve(
        "resnet_cifar", dataset="cifar10", train_examples=50_000, global_batch_size=512
    )
    assert (
        big.steps_per_epoch == 97 and big.epochs == 164 and big.learning_rate == pytest.approx(0.4)
    )
    # Other datasets train DEFAULT_EPOCHS unless told.
    assert (
        recipes.resolve("resnet_cifar", dataset="digits", train_examples=1438).epochs
        == recipes.DEFAULT_EPOCHS
    )


def test_resnet110_warms_up_at_a_tenth_for_400_iterations():
    hp = recipes.resolve("resnet_cifar", model_name="resnet110", train_examples=50_000)
    assert (hp.warmup, hp.warmup_steps) == ("constant", 400)
    rate = hp.make_schedule()
    assert float(rate(399)) == pytest.approx(0.01) and float(rate(400)) == pytest.approx(0.1)
    assert (
        recipes.resolve("resnet_cifar", model_name="resnet56", train_examples=50_000).warmup_steps
        == 0
    )
    # At batch 256 the warm-up covers the same images: 200 iterations.
    assert (
        recipes.resolve(
            "resnet_cifar", model_name="resnet110", train_examples=50_000, global_batch_size=256
        ).warmup_steps
        == 200
    )


def test_unknown_names_list_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown recipe 'fast'.*'paper', 'step', 'plateau', 'cosine'"
    ):
        recipes.resolve("resnet", recipe="fast", train_examples=100)
    with pytest.raises(ValueError, match=r"no paper recipe for family 'lenet'.*'alexnet', 'vgg'"):
        recipes.resolve("lenet", train_examples=100)
    with pytest.raises(ValueError, match="fewer than one global batch of 256"):
        recipes.resolve("resnet", train_examples=100)


def test_schedules_at_given_steps():
    step = schedules.StepSchedule(1.0, [10, 20], factor=0.5)
    assert [float(step(s)) for s in (0, 9, 10, 19, 20, 1000)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    cosine = schedules.CosineSchedule(2.0, total_steps=110, warmup_steps=10)
    expected = [2.0 * (s + 1) / 10 for s in range(10)]  # linear warm-up
    expected += [1.0 + math.cos(math.pi * (s - 10) / 100) for s in (10, 35, 60, 85, 110)]
    got = [float(cosine(s)) for s in [*range(10), 10, 35, 60, 85, 110]]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    constant = schedules.ConstantSchedule(0.1, warmup_steps=4, warmup="constant", warmup_factor=0.1)
    assert [float(constant(s)) for s in (0, 3, 4)] == pytest.approx([0.01, 0.01, 0.1])
    with pytest.raises(ValueError, match=r"unknown warm-up 'cubic'.*'linear', 'constant'"):
        schedules.ConstantSchedule(0.1, warmup_steps=2, warmup="cubic")


def test_plateau_divides_after_patience_at_most_max_times():
    plateau = schedules.PlateauSchedule(0.1, patience=2, max_reductions=2)
    errors = [0.5, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    reduced = [plateau.update(e) for e in errors]
    assert reduced == [False, False, False, True, False, False, True, False, False, False, False]
    assert float(plateau(12345)) == pytest.approx(0.001)  # 0.1 / 10 / 10, and no further
    assert int(plateau.state["reductions"].numpy()) == 2


def small_model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=True, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def test_weight_decay_applies_to_kernels_only():
    model = small_model()
    assert add_weight_decay(model, 1e-4) == ["conv/kernel", "dense/kernel"]
    kernels = [model.get_layer("conv").kernel, model.get_layer("dense").kernel]
    assert decayed_variables(model) == kernels
    expected = 0.5e-4 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    # The penalty's gradient reaches the kernels only: not BN gamma/beta, not the biases.
    with tf.GradientTape() as tape:
        penalty = tf.add_n(model.losses)
    gradients = dict(
        zip(
            [v.path for v in model.trainable_variables],
            tape.gradient(penalty, model.trainable_variables),
            strict=True,
        )
    )
    assert {p for p, g in gradients.items() if g is not None} == {"conv/kernel", "dense/kernel"}
    np.testing.assert_allclose(gradients["conv/kernel"], 1e-4 * kernels[0].numpy(), rtol=1e-5)
    assert add_weight_decay(small_model(), 0.0) == []
