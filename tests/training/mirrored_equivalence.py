"""Run as `python -m tests.training.mirrored_equivalence`: one training step of the same global
batch on one device and under MirroredStrategy over 2 logical CPUs; prints the figures as JSON.

A subprocess, because the CPU must be split before TensorFlow initialises its devices.
"""

from __future__ import annotations

import json

from keras_classics.training.strategies import make_strategy, split_cpu

split_cpu(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_classics.training.loop import Trainer  # noqa: E402
from keras_classics.training.regularization import add_weight_decay  # noqa: E402

BATCH, LR, DECAY, CLIP = 8, 0.1, 1e-2, 1e-2


def model_fn(batch_norm: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=not batch_norm, name="conv")(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=0.5, name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def one_step(strategy, batch_norm, images, labels, clip=None):
    """Loss reported and weights after one SGD step of the global batch under `strategy`
    (with the gradient's global norm clipped to `clip`)."""
    with strategy.scope():
        model = model_fn(batch_norm)
        add_weight_decay(model, DECAY)
        trainer = Trainer(
            strategy, model, keras.optimizers.SGD(LR), global_batch_size=BATCH, clip_grad_norm=clip
        )

    def dataset_fn(context):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        return dataset.batch(context.get_per_replica_batch_size(BATCH)).repeat()

    trainer.train_steps(iter(strategy.distribute_datasets_from_function(dataset_fn)), 1)
    trainer.average_non_trainable()
    per_replica = [
        [np.asarray(c) for c in v.value.values] if hasattr(v.value, "values") else [v.numpy()]
        for v in model.weights
    ]
    # Every replica holds the same weights (BN moving statistics included, once averaged).
    spread = max(float(np.abs(c - cs[0]).max()) for cs in per_replica for c in cs)
    return trainer.train_totals.read()["loss"], model.get_weights(), spread


def halves_reference(images, labels):
    """BN normalising each half of the batch with its own statistics, on one device."""
    model = model_fn(True)
    add_weight_decay(model, DECAY)
    halves = np.split(np.arange(BATCH), 2)
    with tf.GradientTape() as tape:
        losses = [
            tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(
                    labels[h], model(images[h], training=True)
                )
            )
            for h in halves
        ]
        data_loss = tf.add_n(losses) / 2
        total = data_loss + tf.add_n(model.losses)
    gradients = tape.gradient(total, model.trainable_variables)
    return float(data_loss), {
        v.path: v.numpy() - LR * g.numpy()
        for v, g in zip(model.trainable_variables, gradients, strict=True)
    }


def main() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, 6, 6, 3)).astype("float32")
    labels = rng.integers(0, 3, BATCH).astype("int32")
    default, mirrored = tf.distribute.get_strategy(), make_strategy("mirrored")
    start = model_fn(False).get_weights()
    figures = {"replicas": mirrored.num_replicas_in_sync}
    loss_1, weights_1, _ = one_step(default, False, images, labels)
    loss_2, weights_2, spread = one_step(mirrored, False, images, labels)
    figures["no_bn"] = {
        "loss_one_device": loss_1,
        "loss_mirrored": loss_2,
        "max_update": max(
            float(np.abs(w - s).max()) for w, s in zip(weights_1, start, strict=True)
        ),
        "max_weight_difference": max(
            float(np.abs(a - b).max()) for a, b in zip(weights_1, weights_2, strict=True)
        ),
        "replica_spread": spread,
    }
    # Clipping the global norm of the whole gradient: the same update over 2 replicas.
    _, clipped_1, _ = one_step(default, False, images, labels, clip=CLIP)
    _, clipped_2, _ = one_step(mirrored, False, images, labels, clip=CLIP)
    figures["clipped"] = {
        "update_norm": float(
            np.sqrt(sum(((w - s) ** 2).sum() for w, s in zip(clipped_1, start, strict=True)))
        ),
        "max_weight_difference": max(
            float(np.abs(a - b).max()) for a, b in zip(clipped_1, clipped_2, strict=True)
        ),
    }
    loss_full, weights_full, _ = one_step(default, True, images, labels)
    loss_bn, weights_bn, spread = one_step(mirrored, True, images, labels)
    reference_loss, reference = halves_reference(images, labels)
    model = model_fn(True)
    paths = [v.path for v in model.weights]
    # Momentum 0.5 from 0: the averaged moving mean is half the mean of the two halves' means,
    # which is half the whole batch's mean of the convolution outputs.
    conv_mean = np.asarray(model.get_layer("conv")(images)).mean(axis=(0, 1, 2))
    moving_mean = weights_bn[paths.index("bn/moving_mean")]
    trainable = {v.path for v in model.trainable_variables}
    figures["bn"] = {
        "loss_mirrored": loss_bn,
        "loss_halves": reference_loss,
        "loss_one_device_full_batch": loss_full,
        "max_difference_to_halves": max(
            float(np.abs(w - reference[p]).max())
            for p, w in zip(paths, weights_bn, strict=True)
            if p in trainable
        ),
        "max_difference_to_full_batch": max(
            float(np.abs(a - b).max()) for a, b in zip(weights_bn, weights_full, strict=True)
        ),
        "replica_spread": spread,
        "moving_mean_error": float(np.abs(moving_mean - 0.5 * conv_mean).max()),
        "moving_mean_scale": float(np.abs(conv_mean).max()),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
