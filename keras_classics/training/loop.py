"""The one training loop: a custom step under `strategy.run` inside a `tf.function`.

It serves every strategy (default, one device, mirrored, multi-worker, TPU) because Keras 3's
`model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585). It follows the
TensorFlow guide "Custom training with tf.distribute.Strategy":

- each replica's per-example losses are summed and divided by the GLOBAL batch
  (`tf.nn.compute_average_loss`), the model's own losses (the weight decay) by the number of
  replicas (`tf.nn.scale_regularization_loss`); the Keras optimizer sums the gradients over the
  replicas, so one step equals one step on the whole global batch on one device;
- BatchNormalization normalises with each replica's own batch statistics (as the ResNet paper's
  multi-GPU training and Goyal et al. 2017, section 5.3); `average_non_trainable` averages the
  moving statistics over the replicas before each evaluation and checkpoint, so every replica
  and worker holds the same model;
- loss and accuracy accumulate in on-read-synchronised variables on each replica and are summed
  over all replicas (and workers) when read.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

_ON_READ = {
    "synchronization": tf.VariableSynchronization.ON_READ,
    "aggregation": tf.VariableAggregation.SUM,
    "trainable": False,
    "dtype": tf.float64,
}


def per_replica_batch_size(global_batch_size: int, replicas: int) -> int:
    """The batch each replica computes; the global batch must split evenly."""
    if global_batch_size < 1 or global_batch_size % replicas:
        suggestion = max(1, global_batch_size // replicas) * replicas
        raise ValueError(
            f"the global batch size {global_batch_size} must be a positive multiple of the "
            f"{replicas} replica(s) in sync; choose e.g. {suggestion}"
        )
    return global_batch_size // replicas


class Totals:
    """Sums of loss, top-1 and top-5 hits, examples and non-finite steps, per replica.

    Create inside the strategy's scope; `read()` sums over every replica of every worker (a
    collective: call it on all workers alike).
    """

    NAMES = ("loss", "top1", "top5", "examples", "nonfinite")

    def __init__(self, prefix: str) -> None:
        self.variables = {
            name: tf.Variable(tf.constant(0.0, tf.float64), name=f"{prefix}_{name}", **_ON_READ)
            for name in self.NAMES
        }

    def add(
        self, labels: tf.Tensor, probabilities: tf.Tensor, per_example: tf.Tensor, finite: tf.Tensor
    ) -> None:
        """Adds one replica's batch (call in replica context); `finite` is False for a step
        whose loss or gradients were NaN or infinite."""
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        probabilities = tf.cast(probabilities, tf.float32)
        k = min(5, probabilities.shape[-1])
        updates = {
            "loss": tf.reduce_sum(per_example),
            "top1": tf.reduce_sum(
                tf.cast(
                    tf.equal(tf.argmax(probabilities, -1, output_type=tf.int32), labels), tf.float32
                )
            ),
            "top5": tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, probabilities, k), tf.float32)),
            "examples": tf.cast(tf.size(labels), tf.float32),
            "nonfinite": tf.cast(tf.logical_not(finite), tf.float32),
        }
        for name, value in updates.items():
            self.variables[name].assign_add(tf.cast(value, tf.float64))

    def reset(self) -> None:
        for variable in self.variables.values():
            variable.assign(tf.zeros(variable.shape, variable.dtype))  # no collective read

    def read(self) -> dict[str, float]:
        """Loss and accuracies averaged over the examples seen; counts as sums."""
        sums = {name: float(v.numpy()) for name, v in self.variables.items()}
        n = sums["examples"]
        return {
            "loss": sums["loss"] / n if n else float("nan"),
            "accuracy": sums["top1"] / n if n else float("nan"),
            "top5_accuracy": sums["top5"] / n if n else float("nan"),
            "examples": int(n),
            "nonfinite": int(sums["nonfinite"]),
        }


def per_example_loss(
    labels: tf.Tensor,
    outputs: tf.Tensor,
    *,
    num_classes: int,
    label_smoothing: float = 0.0,
    from_logits: bool = False,
) -> tf.Tensor:
    """Cross-entropy per example, float32 whatever the compute dtype; label smoothing as in
    Szegedy et al. 2016 (section 7): targets (1 - e) one-hot + e / classes."""
    outputs = tf.cast(outputs, tf.float32)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    if label_smoothing:
        return keras.losses.categorical_crossentropy(
            tf.one_hot(labels, num_classes),
            outputs,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
    return keras.losses.sparse_categorical_crossentropy(labels, outputs, from_logits=from_logits)


class Trainer:
    """Training and evaluation steps of `model` with `optimizer` under `strategy`.

    Build the model and the optimizer inside `strategy.scope()` (no optimizer: evaluation
    only). Feed `train_steps` an iterator
    over a dataset distributed with `strategy.distribute_datasets_from_function` (each element
    `(images, labels)`, a per-replica batch) and `evaluate` the distributed dataset itself.
    With a `keras.optimizers.LossScaleOptimizer` (float16), the loss is scaled before the
    gradients and the optimizer unscales them and skips steps with non-finite gradients.
    With `jit_compile`, XLA compiles each replica's forward and backward pass; the gradient
    all-reduce and the update run outside it (XLA clusters cannot hold cross-replica calls).
    """

    def __init__(
        self,
        strategy: tf.distribute.Strategy,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | None,
        *,
        global_batch_size: int,
        label_smoothing: float = 0.0,
        jit_compile: bool = False,
        from_logits: bool = False,
    ) -> None:
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.global_batch_size = global_batch_size
        self.per_replica_batch_size = per_replica_batch_size(
            global_batch_size, strategy.num_replicas_in_sync
        )
        self.num_classes = int(model.output_shape[-1])
        self.label_smoothing = label_smoothing
        self.from_logits = from_logits
        self.jit_compile = jit_compile
        with strategy.scope():
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)
            self.train_totals = Totals("train")
            self.eval_totals = Totals("eval")
        self._loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        # Autograph stays off: the loops are written with tf.while_loop, and converting the
        # model's Python code would only cost tracing time.
        self._gradients = (
            tf.function(self._forward_backward, jit_compile=True, autograph=False)
            if jit_compile
            else self._forward_backward
        )
        self._train_function = tf.function(self._train_steps, autograph=False)
        self._eval_function = tf.function(self._eval_step, reduce_retracing=True, autograph=False)
        self._average_function = tf.function(self._average_non_trainable, autograph=False)

    # --- replica functions -------------------------------------------------------------
    def _loss(self, labels: tf.Tensor, outputs: tf.Tensor, smoothing: float) -> tf.Tensor:
        return per_example_loss(
            labels,
            outputs,
            num_classes=self.num_classes,
            label_smoothing=smoothing,
            from_logits=self.from_logits,
        )

    def _forward_backward(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[Any, ...]:
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            per_example = self._loss(labels, outputs, self.label_smoothing)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)
            if self.model.losses:
                loss += tf.nn.scale_regularization_loss(
                    tf.add_n([tf.cast(x, tf.float32) for x in self.model.losses])
                )
            scaled = self.optimizer.scale_loss(loss) if self._loss_scaling else loss
        gradients = tape.gradient(scaled, variables)
        return gradients, outputs, per_example, loss

    def _replica_train_step(self, images: tf.Tensor, labels: tf.Tensor) -> None:
        gradients, outputs, per_example, loss = self._gradients(images, labels)
        self.optimizer.apply(gradients, self.model.trainable_variables)
        finite = tf.math.is_finite(loss)
        if not self._loss_scaling:
            # A non-finite gradient ruins the weights even where the loss looks finite (a
            # fused ReLU maps NaN to 0); with loss scaling the optimizer skips such steps.
            norm = tf.linalg.global_norm([g for g in gradients if g is not None])
            finite = tf.logical_and(finite, tf.math.is_finite(norm))
        self.train_totals.add(labels, outputs, per_example, finite)

    def _train_steps(self, iterator: Any, steps: tf.Tensor) -> None:
        def body(step: tf.Tensor) -> tf.Tensor:
            images, labels = next(iterator)
            self.strategy.run(self._replica_train_step, args=(images, labels))
            return step + 1

        tf.while_loop(lambda step: step < steps, body, [tf.constant(0)])

    def _replica_eval_step(self, images: tf.Tensor, labels: tf.Tensor) -> None:
        outputs = self.model(images, training=False)
        per_example = self._loss(labels, outputs, 0.0)
        self.eval_totals.add(
            labels, outputs, per_example, tf.reduce_all(tf.math.is_finite(per_example))
        )

    def _eval_step(self, images: Any, labels: Any) -> None:
        self.strategy.run(self._replica_eval_step, args=(images, labels))

    def _average_non_trainable(self) -> None:
        variables = [
            v for v in self.model.non_trainable_variables if v.dtype.startswith(("float", "bfloat"))
        ]

        def average() -> None:
            context = tf.distribute.get_replica_context()
            means = context.all_reduce(
                tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in variables]
            )
            for variable, mean in zip(variables, means, strict=True):
                variable.assign(mean)

        if variables:
            self.strategy.run(average)

    # --- host-side API -------------------------------------------------------------------
    def train_steps(self, iterator: Any, steps: int) -> None:
        """Runs `steps` training steps in one call (one `tf.function` execution)."""
        self._train_function(iterator, tf.constant(steps, tf.int32))

    def nonfinite_steps(self) -> int:
        """Replica steps whose loss or gradients were NaN or infinite since the last reset."""
        return int(self.train_totals.variables["nonfinite"].numpy())

    def evaluate(self, dataset: Any) -> dict[str, float]:
        """Loss (cross-entropy, no smoothing), top-1 and top-5 accuracy over a distributed
        dataset that ends (every example once; replicas left without data get empty batches).
        """
        self.eval_totals.reset()
        for images, labels in dataset:
            self._eval_function(images, labels)
        return self.eval_totals.read()

    def average_non_trainable(self) -> None:
        """Averages BN moving statistics (any float non-trainable weight) over the replicas."""
        if self.strategy.num_replicas_in_sync > 1:
            self._average_function()

    def regularization_loss(self) -> float:
        """The weight-decay term of the loss at the current weights."""
        losses = self.model.losses
        return float(tf.add_n([tf.cast(x, tf.float32) for x in losses])) if losses else 0.0

    def learning_rate(self) -> float:
        """The optimizer's learning rate at its current step."""
        rate = self.optimizer.learning_rate
        return float(rate.numpy() if hasattr(rate, "numpy") else rate)
