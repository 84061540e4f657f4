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
  over all replicas (and workers) when read; top-k counts a hit only when fewer than k other
  classes score at least as high as the true class (ties count against the model);
- labels are class indices [batch] or soft labels [batch, classes] (mixup, cutmix); metrics
  take the soft label's largest entry as the class;
- `clip_grad_norm` clips the global norm of the whole (all-replica) gradient, as one device
  would: each replica scales its share by the same factor;
- with an EMA optimizer (`use_ema`), `ema_weights()` swaps the averages in for evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def class_indices(labels: tf.Tensor) -> tf.Tensor:
    """Class indices [batch] from indices or from soft labels [batch, classes] (argmax)."""
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2:
        return tf.argmax(labels, -1, output_type=tf.int32)
    return tf.cast(tf.reshape(labels, [-1]), tf.int32)


def true_class_rank(labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
    """1 + the number of other classes scoring at least as high as the true class: a tie
    counts against the model, a NaN score ranks last. Top-k hit: rank <= k."""
    outputs = tf.cast(outputs, tf.float32)
    true_score = tf.gather(outputs, labels, axis=1, batch_dims=1)[:, None]
    not_below = tf.logical_not(outputs < true_score)  # >=, or NaN on either side
    higher_or_tied = tf.reduce_sum(tf.cast(not_below, tf.int32), -1)
    true_is_nan = tf.math.is_nan(true_score[:, 0])
    return tf.where(true_is_nan, tf.shape(outputs)[-1] + 1, higher_or_tied)


class Totals:
    """Sums of loss, top-1 and top-5 hits, examples and non-finite steps, per replica; with
    `num_classes`, also the confusion matrix (rows: true class, columns: top-1 prediction).

    Create inside the strategy's scope; `read()` sums over every replica of every worker (a
    collective: call it on all workers alike).
    """

    NAMES = ("loss", "top1", "top5", "examples", "nonfinite")

    def __init__(self, prefix: str, num_classes: int | None = None) -> None:
        self.variables = {
            name: tf.Variable(tf.constant(0.0, tf.float64), name=f"{prefix}_{name}", **_ON_READ)
            for name in self.NAMES
        }
        self.num_classes = num_classes
        if num_classes:
            self.variables["confusion"] = tf.Variable(
                tf.zeros([num_classes, num_classes], tf.float64),
                name=f"{prefix}_confusion",
                **_ON_READ,
            )

    def add(
        self, labels: tf.Tensor, outputs: tf.Tensor, per_example: tf.Tensor, finite: tf.Tensor
    ) -> None:
        """Adds one replica's batch (call in replica context); `finite` is False for a step
        whose loss or gradients were NaN or infinite."""
        labels = class_indices(labels)
        rank = true_class_rank(labels, outputs)
        k = min(5, outputs.shape[-1])
        updates = {
            "loss": tf.reduce_sum(per_example),
            "top1": tf.reduce_sum(tf.cast(rank <= 1, tf.float32)),
            "top5": tf.reduce_sum(tf.cast(rank <= k, tf.float32)),
            "examples": tf.cast(tf.size(labels), tf.float32),
            "nonfinite": tf.cast(tf.logical_not(finite), tf.float32),
        }
        if self.num_classes:
            predictions = tf.argmax(tf.cast(outputs, tf.float32), -1, output_type=tf.int32)
            updates["confusion"] = tf.math.confusion_matrix(
                labels, predictions, self.num_classes, dtype=tf.float64
            )
        for name, value in updates.items():
            self.variables[name].assign_add(tf.cast(value, tf.float64))

    def reset(self) -> None:
        for variable in self.variables.values():
            variable.assign(tf.zeros(variable.shape, variable.dtype))  # no collective read

    def read(self) -> dict[str, Any]:
        """Loss and accuracies averaged over the examples seen; counts as sums; the confusion
        matrix as nested lists of ints."""
        sums = {name: v.numpy() for name, v in self.variables.items()}
        n = float(sums["examples"])
        results = {
            "loss": float(sums["loss"]) / n if n else float("nan"),
            "accuracy": float(sums["top1"]) / n if n else float("nan"),
            "top5_accuracy": float(sums["top5"]) / n if n else float("nan"),
            "examples": int(n),
            "nonfinite": int(sums["nonfinite"]),
        }
        if self.num_classes:
            results["confusion"] = sums["confusion"].astype(int).tolist()
        return results


def per_example_loss(
    labels: tf.Tensor,
    outputs: tf.Tensor,
    *,
    num_classes: int,
    label_smoothing: float = 0.0,
    from_logits: bool = False,
) -> tf.Tensor:
    """Cross-entropy per example, float32 whatever the compute dtype, of class indices or soft
    labels [batch, classes]; label smoothing as in Szegedy et al. 2016 (section 7): targets
    (1 - e) y + e / classes."""
    outputs, labels = tf.cast(outputs, tf.float32), tf.convert_to_tensor(labels)
    if labels.shape.rank == 2:  # soft labels (mixup, cutmix)
        return keras.losses.categorical_crossentropy(
            tf.cast(labels, tf.float32),
            outputs,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
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
        clip_grad_norm: float | None = None,
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
        self.clip_grad_norm = clip_grad_norm
        with strategy.scope():
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)
            self.train_totals = Totals("train")
            self.eval_totals = Totals("eval", self.num_classes)
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

    def _clip(self, gradients: list[Any]) -> list[Any]:
        """Scales this replica's gradients so that their all-replica sum has a global norm of
        at most `clip_grad_norm` (the optimizer sums them afterwards)."""
        present = [g for g in gradients if g is not None]
        total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, present)
        if self._loss_scaling:
            total = [g / self.optimizer.dynamic_scale for g in total]
        norm = tf.linalg.global_norm(total)
        factor = tf.minimum(1.0, self.clip_grad_norm / tf.maximum(norm, 1e-12))
        return [None if g is None else g * tf.cast(factor, g.dtype) for g in gradients]

    def _replica_train_step(self, images: tf.Tensor, labels: tf.Tensor) -> None:
        gradients, outputs, per_example, loss = self._gradients(images, labels)
        finite = tf.math.is_finite(loss)
        if not self._loss_scaling:
            # A non-finite gradient ruins the weights even where the loss looks finite (a
            # fused ReLU maps NaN to 0); with loss scaling the optimizer skips such steps.
            norm = tf.linalg.global_norm([g for g in gradients if g is not None])
            finite = tf.logical_and(finite, tf.math.is_finite(norm))
        if self.clip_grad_norm:
            gradients = self._clip(gradients)
        self.optimizer.apply(gradients, self.model.trainable_variables)
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

    def learning_rate(self, step: int | None = None) -> float:
        """The rate the optimizer uses at `step` (default: its next step, the current
        iteration count)."""
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        schedule = inner._learning_rate
        if step is None:
            step = int(self.optimizer.iterations.numpy())
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            return float(schedule(step))
        rate = self.optimizer.learning_rate
        return float(rate.numpy() if hasattr(rate, "numpy") else rate)

    @contextmanager
    def ema_weights(self) -> Iterator[None]:
        """Inside: the model's trainable weights are the optimizer's moving averages."""
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        variables = self.model.trainable_variables
        saved = [tf.identity(v.value) for v in variables]
        inner.finalize_variable_values(variables)
        try:
            yield
        finally:
            for variable, value in zip(variables, saved, strict=True):
                variable.assign(value)

    @property
    def has_ema(self) -> bool:
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return bool(getattr(inner, "use_ema", False))
