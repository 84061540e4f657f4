"""Throughput of keras_classics models against their peers, measured side by side in one run.

    python -m benchmarks.models                        # ResNet50, batch 32, 224x224
    python -m benchmarks.models --pair vgg16 --batch-size 8 --steps 3
    python -m benchmarks.models --pair alexnet_lrn
Pairs: resnet50 (vs keras.applications.ResNet50), vgg16 (vs keras.applications.VGG16),
alexnet_lrn (paper AlexNet with our LRN layer vs the same with tf.nn.local_response_normalization).
Prints median images/s of both and the median per-round ratio ours / peer (above 1.0: ours is
faster) with its min-max over the rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import keras
import numpy as np

from benchmarks.comparison import Comparison

MODES = ("inference", "training")


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", choices=list(PAIRS), default="resnet50")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)

    description, ours, peer = build_pair(args.pair, args.image_size)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(
        f"{description}, batch {args.batch_size}, {args.image_size}x{args.image_size}, "
        f"keras {keras.__version__} on {keras.backend.backend()}, {machine}"
    )
    print(f"{'mode':<10} {'ours img/s':>11} {'peer img/s':>11} {'ratio':>7}  (per-round min-max)")
    for mode in args.modes:
        result = compare(
            ours,
            peer,
            mode=mode,
            batch_size=args.batch_size,
            steps=args.steps,
            warmup=args.warmup,
            rounds=args.rounds,
        )
        spread = f"{min(result.round_ratios):.2f}-{max(result.round_ratios):.2f}"
        print(
            f"{mode:<10} {result.ours:>11.2f} {result.peer:>11.2f} {result.ratio:>6.2f}x"
            f"  ({spread})"
        )


if __name__ == "__main__":
    main()
