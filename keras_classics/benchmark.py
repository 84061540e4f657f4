"""Throughput of two models measured side by side, in one process, interleaved."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import keras
import numpy as np

MODES = ("inference", "training")


@dataclass(frozen=True)
class Comparison:
    """Images/s of `ours` and `peer` in each timed round of one mode."""

    mode: str
    ours_rounds: tuple[float, ...]
    peer_rounds: tuple[float, ...]

    @property
    def ours(self) -> float:
        return statistics.median(self.ours_rounds)

    @property
    def peer(self) -> float:
        return statistics.median(self.peer_rounds)

    @property
    def round_ratios(self) -> tuple[float, ...]:
        """ours / peer of each round (the two were timed back to back)."""
        return tuple(o / p for o, p in zip(self.ours_rounds, self.peer_rounds, strict=True))

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios: above 1.0, ours is faster."""
        return statistics.median(self.round_ratios)


def _step(model: keras.Model, mode: str, images: np.ndarray, labels: np.ndarray) -> None:
    if mode == "inference":
        model.predict_on_batch(images)
    else:
        model.train_on_batch(images, labels)


def images_per_second(
    model: keras.Model, mode: str, images: np.ndarray, labels: np.ndarray, steps: int
) -> float:
    """Images/s over `steps` compiled steps (the model must be compiled for training)."""
    start = time.perf_counter()
    for _ in range(steps):
        _step(model, mode, images, labels)
    return steps * len(images) / (time.perf_counter() - start)


def compare(
    ours: keras.Model,
    peer: keras.Model,
    *,
    mode: str,
    batch_size: int,
    steps: int,
    warmup: int = 2,
    rounds: int = 3,
    seed: int = 0,
) -> Comparison:
    """Compiles both models alike, warms them up, then alternates timed rounds between them.

    Alternating rounds (ours, peer, ours, peer, ...) spreads slow drifts of the machine over both
    models; the ratio is the median of the
    per-round ratios.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not valid; choose one of {list(MODES)}")
    shape = (batch_size, *ours.input_shape[1:])
    if tuple(peer.input_shape[1:]) != shape[1:]:
        raise ValueError(f"input shapes differ: {ours.input_shape} vs {peer.input_shape}")
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, shape).astype("float32")
    labels = rng.integers(0, ours.output_shape[-1], batch_size)
    for model in (ours, peer):
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss="sparse_categorical_crossentropy",
        )
        for _ in range(warmup):
            _step(model, mode, images, labels)
    ours_rounds, peer_rounds = [], []
    for _ in range(rounds):
        ours_rounds.append(images_per_second(ours, mode, images, labels, steps))
        peer_rounds.append(images_per_second(peer, mode, images, labels, steps))
    return Comparison(mode, tuple(ours_rounds), tuple(peer_rounds))


# --- the pairs scripts/benchmark.py compares -----------------------------------------------


def _resnet50(shape: tuple[int, int, int]) -> tuple[keras.Model, keras.Model]:
    from keras_classics.models.resnet import ResNet50

    return ResNet50(input_shape=shape), keras.applications.ResNet50(weights=None, input_shape=shape)


def _vgg16(shape: tuple[int, int, int]) -> tuple[keras.Model, keras.Model]:
    from keras_classics.models.vgg import VGG16

    return VGG16(input_shape=shape), keras.applications.VGG16(weights=None, input_shape=shape)


def _alexnet_lrn(shape: tuple[int, int, int]) -> tuple[keras.Model, keras.Model]:
    """The paper AlexNet with our keras.ops LRN, and the same with tf.nn's fused LRN op."""
    import tensorflow as tf

    from keras_classics.layers import LocalResponseNormalization
    from keras_classics.models.alexnet import AlexNet

    class TensorFlowLRN(keras.layers.Layer):
        def __init__(self, config: dict) -> None:
            super().__init__(name=config["name"])
            self.lrn = {key: config[key] for key in ("depth_radius", "bias", "alpha", "beta")}

        def call(self, x):  # channels last, as tf.nn.local_response_normalization needs
            return tf.nn.local_response_normalization(x, **self.lrn)

    def swap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, LocalResponseNormalization):
            return TensorFlowLRN(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    ours = AlexNet(input_shape=shape)
    return ours, keras.models.clone_model(ours, clone_function=swap)


PAIRS = {
    "resnet50": ("ResNet50 vs keras.applications.ResNet50", _resnet50),
    "vgg16": ("VGG16 vs keras.applications.VGG16", _vgg16),
    "alexnet_lrn": (
        "paper AlexNet: our LRN layer vs tf.nn.local_response_normalization",
        _alexnet_lrn,
    ),
}


def build_pair(name: str, image_size: int) -> tuple[str, keras.Model, keras.Model]:
    """(description, ours, peer) of the pair `name` at `image_size` x `image_size` x 3."""
    if name not in PAIRS:
        raise ValueError(f"unknown pair {name!r}; choose one of {list(PAIRS)}")
    description, build = PAIRS[name]
    return description, *build((image_size, image_size, 3))
