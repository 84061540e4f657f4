"""Build a model of the zoo, print its parameters and multiply-adds, run a forward pass.

python scripts/demo.py --model resnet50
python scripts/demo.py --model resnet34 --model-option shortcut=A
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import sys
import time

import numpy as np

import keras_classics
from keras_classics.cli import ArgumentParser, add_model_arguments, positive_int, run_script
from keras_classics.registry import get_entry


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=4)
    parser.add_argument("--rows", type=positive_int, default=None, help="layers shown in the table")
    args = parser.parse_args(argv)

    entry = get_entry(args.model)
    model = entry.build(**dict(args.model_option))
    summary = keras_classics.profile(model)
    print(summary.table(max_rows=args.rows))

    # A model built for any size (input_shape=(None, None, 3)) runs at the family's usual size.
    shape = [entry.input_size if d is None else d for d in model.input_shape[1:]]
    images = np.random.default_rng(0).uniform(0, 1, (args.batch_size, *shape))
    model.predict_on_batch(images.astype("float32"))  # compile once, then time
    start = time.perf_counter()
    outputs = np.asarray(model.predict_on_batch(images.astype("float32")))
    seconds = time.perf_counter() - start
    print(
        f"forward pass: input {images.shape} -> output {outputs.shape} {outputs.dtype}; "
        f"{args.batch_size / seconds:.1f} images/s; output rows sum to "
        f"{outputs.sum(axis=-1).round(4).tolist()}"
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
