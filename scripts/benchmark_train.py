"""Training throughput: the package's loop against a bare model.fit (same data, one process),
with and without XLA, and scripts/train.py end to end on synthetic data.

python scripts/benchmark_train.py                        # ResNet-20 at 32, ResNet-50 at 224
python scripts/benchmark_train.py --config resnet20:32:128 --steps 20 --rounds 5 --xla off
"""

from __future__ import annotations

import argparse
import tempfile

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

    from keras_classics.training.benchmark import HEADER, compare_loop_and_fit

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
                        model=name, dataset="synthetic", image_size=size, batch_size=batch,
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
