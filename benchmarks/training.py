"""Training throughput: the package's loop against a bare model.fit (same data, one process),
with and without XLA, and scripts/train.py end to end on synthetic data.

python -m benchmarks.training                        # ResNet-20 at 32, ResNet-50 at 224
python -m benchmarks.training --config resnet20:32:128 --steps 20 --rounds 5 --xla off

Throughput of the training loop against a bare `model.fit` on the same data, in one process.

Both train the same architecture (two copies with the same weights) with the same optimizer,
loss, weight decay and batch, from one in-memory batch repeated (so the input pipeline costs
nothing), under the default strategy. Timed rounds alternate (loop, fit, loop, fit, ...) after
a warm-up, so slow drifts of a shared machine hit both; the overhead is 1 - the median of the
per-round ratios loop / fit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from benchmarks.comparison import Comparison
from keras_classics.registry import get_entry
from keras_classics.training.loop import Trainer
from keras_classics.training.regularization import add_weight_decay

WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class LoopVersusFit:
    """One configuration's timed rounds: `rounds.ours` is the loop, `rounds.peer` is fit."""

    model: str
    image_size: int
    batch_size: int
    jit_compile: bool
    rounds: Comparison

    def row(self) -> str:
        ratios = self.rounds.round_ratios
        return (
            f"{self.model:<9} {self.image_size:>4} {self.batch_size:>5} "
            f"{'on' if self.jit_compile else 'off':>4} {self.rounds.ours:>9.1f} "
            f"{self.rounds.peer:>9.1f} {self.rounds.ratio:>6.3f} ({min(ratios):.3f}-"
            f"{max(ratios):.3f}) {100 * (1 - self.rounds.ratio):>+6.1f}%"
        )


HEADER = "model     size batch  XLA  loop img/s fit img/s  loop/fit (min-max) overhead"


def _model(name: str, image_size: int) -> keras.Model:
    entry = get_entry(name)
    options = {"classes": 10}
    if image_size != entry.input_size:
        options["input_shape"] = (image_size, image_size, 3)
    model = entry.build(**options)
    add_weight_decay(model, WEIGHT_DECAY)
    return model


def compare_loop_and_fit(
    name: str,
    image_size: int,
    *,
    batch_size: int,
    steps: int,
    rounds: int = 3,
    warmup: int = 2,
    jit_compile: bool = False,
    seed: int = 0,
) -> LoopVersusFit:
    """Times `rounds` x `steps` training steps of the loop and of `fit`, alternating."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch_size, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, 10, batch_size).astype("int32")
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    strategy = tf.distribute.get_strategy()

    ours = _model(name, image_size)
    peer = _model(name, image_size)
    peer.set_weights(ours.get_weights())
    trainer = Trainer(
        strategy,
        ours,
        keras.optimizers.SGD(0.01, momentum=0.9),
        global_batch_size=batch_size,
        jit_compile=jit_compile,
    )
    iterator = iter(strategy.distribute_datasets_from_function(lambda _: dataset))
    peer.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    peer_iterator = dataset  # fit makes its own iterator per call, as it does per epoch

    def run_loop(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):  # as run.py: one execution, then the NaN check
            trainer.train_steps(iterator, 1)
            trainer.nonfinite_steps()
        return count * batch_size / (time.perf_counter() - start)

    def run_fit(count: int) -> float:
        start = time.perf_counter()
        peer.fit(peer_iterator, steps_per_epoch=count, epochs=1, verbose=0, shuffle=False)
        return count * batch_size / (time.perf_counter() - start)

    run_loop(warmup)
    run_fit(warmup)
    loop_rounds, fit_rounds = [], []
    for _ in range(rounds):
        loop_rounds.append(run_loop(steps))
        fit_rounds.append(run_fit(steps))
    rounds = Comparison("training", tuple(loop_rounds), tuple(fit_rounds))
    return LoopVersusFit(name, image_size, batch_size, jit_compile, rounds)


DEFAULT_CONFIGS = ("resnet20:32:128", "resnet50:224:32")


def parse_config(text: str) -> tuple[str, int, int]:
    """'resnet20:32:128' -> ('resnet20', 32, 128): model, image size, batch."""
    try:
        name, size, batch = text.split(":")
        return name, int(size), int(batch)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MODEL:IMAGE_SIZE:BATCH, e.g. resnet20:32:128; got {text!r}"
        ) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=parse_config, action="append", metavar="M:S:B")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--xla", choices=("off", "on", "both"), default="both")
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also run scripts/train.py's job on synthetic data (augmentation included)",
    )
    args = parser.parse_args(argv)
    configs = args.config or [parse_config(c) for c in DEFAULT_CONFIGS]
    xla = {"off": [False], "on": [True], "both": [False, True]}[args.xla]

    print(HEADER, flush=True)
    for name, size, batch in configs:
        for jit in xla:
            result = compare_loop_and_fit(
                name,
                size,
                batch_size=batch,
                steps=args.steps,
                rounds=args.rounds,
                warmup=args.warmup,
                jit_compile=jit,
            )
            print(result.row(), flush=True)
    if args.end_to_end:
        from keras_classics.training.config import RunConfig
        from keras_classics.training.run import train

        for name, size, batch in configs:
            for jit in xla:
                with tempfile.TemporaryDirectory() as directory:
                    summary = train(RunConfig(
                        model=name, dataset="synthetic", train_crop_size=size, batch_size=batch,
                        epochs=1, steps_per_epoch=args.warmup + args.steps, jit_compile=jit,
                        log_every=0, output_dir=directory,
                    ))  # fmt: skip
                print(
                    f"scripts/train.py {name} {size} batch {batch} XLA {'on' if jit else 'off'}: "
                    f"{summary['images_per_second']:.1f} images/s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
