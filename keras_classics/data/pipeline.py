"""tf.data pipelines: source -> (shard) -> (cache) -> shuffle -> augment -> batch -> prefetch.

Signals (the `signal` recipe, MNIST-1D) are only shuffled, batched and prefetched.

`make_dataset` builds the pipeline of one input pipeline (one worker) with a PER-REPLICA batch
size; `distribute_dataset` hands it to a tf.distribute strategy with
`distribute_datasets_from_function`, so each worker reads its own shard and each replica gets
`global_batch / replicas` images.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from keras_classics.data.augment import RECIPES, SIGNAL_RECIPE, Recipe, get_recipe, train_augment
from keras_classics.data.evaluation import decode_image, preprocess_for_eval
from keras_classics.data.sources import DataSource
from keras_classics.normalization import Normalization, get_normalization


@dataclass(frozen=True)
class Extras:
    """Opt-in batch augmentations beyond the papers, with Keras 3's own layers.

    randaugment: `keras.layers.RandAugment` (Cubuk et al. 2019), 2 ops per image, with this
        factor (0-1); mixup / cutmix: `keras.layers.MixUp` / `CutMix` with this alpha
        (Zhang et al. 2018 / Yun et al. 2019); random_erase: `keras.layers.RandomErasing`
        (Zhong et al. 2020) with this probability; label_smoothing: Szegedy et al. 2016.
    Any of mixup, cutmix or label_smoothing turns the labels into float32 one-hot (soft)
    vectors [batch, classes]: train with a categorical (not sparse) cross-entropy then.
    """

    randaugment: float | None = None
    mixup: float | None = None
    cutmix: float | None = None
    random_erase: float | None = None
    label_smoothing: float = 0.0

    @property
    def soft_labels(self) -> bool:
        return bool(self.mixup or self.cutmix or self.label_smoothing)


def smooth_labels(one_hot: tf.Tensor, smoothing: float) -> tf.Tensor:
    """Label smoothing: (1 - e) * y + e / classes."""
    classes = tf.cast(tf.shape(one_hot)[-1], one_hot.dtype)
    return one_hot * (1.0 - smoothing) + smoothing / classes


def _mix(layer, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A MixUp / CutMix layer on one batch: (images, soft labels)."""
    mixed = layer({"images": images, "labels": labels}, training=True)
    return mixed["images"], mixed["labels"]


def _apply_extras(dataset: tf.data.Dataset, extras: Extras, num_classes: int, seed):
    import keras

    def images_only(layer):
        return lambda x, y: (layer(x, training=True), y)

    if extras.randaugment:
        layer = keras.layers.RandAugment(value_range=(0, 255), factor=extras.randaugment, seed=seed)
        dataset = dataset.map(images_only(layer), num_parallel_calls=tf.data.AUTOTUNE)
    if extras.random_erase:
        layer = keras.layers.RandomErasing(factor=extras.random_erase, seed=seed)
        dataset = dataset.map(images_only(layer), num_parallel_calls=tf.data.AUTOTUNE)
    if not extras.soft_labels:
        return dataset
    dataset = dataset.map(lambda x, y: (x, tf.one_hot(y, num_classes)))
    for layer in (
        extras.mixup and keras.layers.MixUp(alpha=extras.mixup, seed=seed),
        extras.cutmix and keras.layers.CutMix(factor=extras.cutmix, seed=seed),
    ):
        if layer:
            dataset = dataset.map(
                lambda x, y, layer=layer: _mix(layer, x, y), num_parallel_calls=tf.data.AUTOTUNE
            )
    if extras.label_smoothing:
        dataset = dataset.map(lambda x, y: (x, smooth_labels(y, extras.label_smoothing)))
    return dataset


def _options(deterministic: bool, private_threads: int | None) -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    if private_threads:
        options.threading.private_threadpool_size = private_threads
    return options


def make_dataset(
    source: DataSource,
    split: str,
    *,
    recipe: str | Recipe,
    batch_size: int,
    training: bool,
    image_size: int | None = None,
    resize_size: int | None = None,
    normalization: str | Normalization | None = None,
    input_context: tf.distribute.InputContext | None = None,
    seed: int | None = None,
    cache: bool = False,
    deterministic: bool = False,
    shuffle_buffer: int = 10_000,
    private_threads: int | None = None,
    extras: Extras | None = None,
    fused_decode: bool = True,
) -> tf.data.Dataset:
    """Batches of (normalised float32 images [B, S, S, 3], int32 labels [B]); with the
    `signal` recipe, of the source's float32 signals [B, length] as they are.

    training: the recipe's random augmentation, shuffled, partial last batch dropped (one
        view per image per epoch, new views every epoch); otherwise the evaluation view
        (resize, centre crop) in order, partial last batch kept.
    batch_size: per input pipeline (per replica under `distribute_dataset`).
    image_size: the training crop, or the evaluation centre crop (default: the recipe's).
    resize_size: evaluation only: the shorter side before the centre crop (default: the
        recipe's for `image_size`).
    input_context: read only this pipeline's shard (distinct files per worker).
    seed: with `deterministic=True`, two runs give identical batches (augmentation uses
        stateless random ops seeded per element); otherwise order may vary for speed.
    cache: keep the source elements (encoded bytes or small arrays) in memory after the
        first epoch; augmentation still runs every epoch.
    private_threads: a private thread pool of this size for this pipeline's ops.
    normalization: default the recipe's (see keras_classics.normalization); pass the one
        pretrained weights expect, e.g. "torch" or "caffe".
    fused_decode: False decodes whole images before cropping (the naive order; benchmarks).
    """
    recipe = get_recipe(recipe)
    image_size = image_size or recipe.default_image_size
    normalize = get_normalization(normalization or recipe.normalization).apply
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    pipelines = input_context.num_input_pipelines if input_context else 1
    available = source.sizes[split] // pipelines if split in source.sizes else None
    if training and available is not None and batch_size > available:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {available} images of split {split!r} "
            f"of {source.name} per input pipeline; training drops partial batches, so no batch "
            "would be produced: use a smaller batch"
        )
    encoded = source.encoded
    dataset = source.dataset(split, input_context)
    signals = recipe.name == SIGNAL_RECIPE
    check_signals(source.name, dataset, recipe)
    if signals and extras is not None:
        raise ValueError(
            "batch augmentations (RandAugment, MixUp, ...) are for images, not signals"
        )
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(
            min(shuffle_buffer, available or shuffle_buffer),
            seed=seed,
            reshuffle_each_iteration=True,
        )
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def augment(element, element_seed):
            image, label = element
            view = train_augment(
                image, element_seed, recipe, image_size, encoded=encoded, fused=fused_decode
            )
            return view, label

        if not signals:
            dataset = tf.data.Dataset.zip(dataset, seeds).map(
                augment, num_parallel_calls=tf.data.AUTOTUNE
            )
    elif not signals:
        resize_size = resize_size or recipe.eval_resize_size(image_size)
        dataset = dataset.map(
            lambda image, label: (
                preprocess_for_eval(
                    decode_image(image, min_side=resize_size) if encoded else image,
                    image_size=image_size,
                    resize_size=resize_size,
                    normalization=normalization or recipe.normalization,
                ),
                label,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if encoded:  # files found undecodable only now (image folders read without verify)
        dataset = dataset.ignore_errors(log_warning=True)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    if training and not signals:  # extras work on 0-255 pixels, so normalise the batch last
        if extras is not None:
            dataset = _apply_extras(dataset, extras, source.num_classes, seed)
        dataset = dataset.map(lambda x, y: (normalize(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options(deterministic, private_threads))


def holds_signals(dataset: tf.data.Dataset) -> bool:
    """Whether a source's elements are 1D signals `([length], label)` (not images)."""
    return dataset.element_spec[0].shape.rank == 1


def check_signals(name: str, dataset: tf.data.Dataset, recipe: Recipe) -> None:
    """A clear error where the recipe and the source disagree about signals and images."""
    signals = holds_signals(dataset)
    if signals != (recipe.name == SIGNAL_RECIPE):
        kind = "signals" if signals else "images"
        valid = [r for r in RECIPES if (r == SIGNAL_RECIPE) == signals]
        raise ValueError(
            f"{name} holds {kind}: recipe {recipe.name!r} does not suit it; choose {valid}"
        )


def distribute_dataset(
    strategy: tf.distribute.Strategy,
    source: DataSource,
    split: str,
    *,
    global_batch_size: int,
    **options,
) -> tf.distribute.DistributedDataset:
    """`make_dataset` per worker under `strategy`, with batch = global batch / replicas.

    Uses `strategy.distribute_datasets_from_function`: each worker's pipeline reads its own
    shard (`InputContext`), and the per-replica batch is `global_batch_size` divided by the
    number of replicas in sync (which must divide it).
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"global batch size {global_batch_size} is not divisible by the {replicas} "
            "replicas; choose a multiple of the number of replicas"
        )

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch_size)
        return make_dataset(source, split, batch_size=per_replica, input_context=context, **options)

    return strategy.distribute_datasets_from_function(dataset_fn)
