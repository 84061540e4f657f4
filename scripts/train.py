"""Train a model of the zoo under tf.distribute with the papers' recipes (resumes automatically).

python scripts/train.py                      # ResNet-20 on the embedded digits, a few minutes
python scripts/train.py --model resnet50 --dataset imagenet2012 --data-dir DIR --strategy mirrored
python scripts/train.py --config runs/resnet20_digits/config.json --epochs 20   # replay, changed
python scripts/train.py --evaluate runs/resnet20_digits/model.keras

Options, recipes and the no-argument run's measured time and accuracy: docs/training.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import sys
import time


def _say_loading() -> None:
    """The first line, before anything imports Keras (and so TensorFlow): tens of seconds."""
    print(f"{time.strftime('%H:%M:%S')} train.py: loading TensorFlow and Keras", flush=True)


def main(argv: list[str]) -> int:
    from keras_classics.training.options import parse_config

    config = parse_config(argv, description=__doc__.splitlines()[0])
    import tensorflow as tf

    from keras_classics.training.run import DivergedError, train
    from keras_classics.training.strategies import cluster_failure

    try:
        train(config)
    except tf.errors.UnavailableError as error:  # a peer of a multi-worker cluster failed
        print(f"error: {cluster_failure(error)}", file=sys.stderr, flush=True)
        return 4
    except DivergedError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    _say_loading()
    from keras_classics.cli import run_script

    sys.exit(run_script(main))
