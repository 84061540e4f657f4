"""The command line of `scripts/train.py` -> `RunConfig`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from keras_classics.cli import add_model_arguments
from keras_classics.training.config import PRECISIONS, RunConfig
from keras_classics.training.recipes import RECIPES
from keras_classics.training.strategies import STRATEGIES

DEFAULTS = RunConfig()


def _csv(kind: type) -> callable:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(item) for item in text.split(",") if item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list; got {text!r}"
            ) from None

    return parse


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """All options of a training run; `python scripts/train.py --help` lists them."""
    parser = argparse.ArgumentParser(description=description)
    add_model_arguments(parser, default=DEFAULTS.model)
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        default=DEFAULTS.dataset,
        help="'digits' (embedded, the default), 'synthetic' (random, for speed), a TFDS name "
        "(cifar10, imagenet2012, ...) or an image folder (one subfolder per class)",
    )
    group.add_argument("--data-dir", help="TFDS data directory")
    group.add_argument("--manual-dir", help="TFDS manual download directory (imagenet2012)")
    group.add_argument("--download", action="store_true", help="let TFDS download the dataset")
    group.add_argument("--image-size", type=int, help="training crop (default: the model's)")
    group.add_argument(
        "--augmentation",
        help="augmentation recipe of keras_classics.data (alexnet, vgg, resnet, cifar; "
        "default: the model family's)",
    )
    group.add_argument("--normalization", help="input normalisation (default: the recipe's)")
    group.add_argument("--cache", action="store_true", help="cache the source in memory")
    group.add_argument("--deterministic", action="store_true", help="deterministic tf.data")
    group.add_argument("--seed", type=int, default=DEFAULTS.seed, help="default %(default)s")

    group = parser.add_argument_group("distribution")
    group.add_argument(
        "--strategy",
        default=DEFAULTS.strategy,
        choices=STRATEGIES,
        help="auto (default): multi_worker with a TF_CONFIG cluster, mirrored on several "
        "devices, one_device on one GPU, else default",
    )
    group.add_argument(
        "--devices",
        type=_csv(str),
        default=(),
        help="devices for one_device / mirrored, e.g. /gpu:0,/gpu:1",
    )
    group.add_argument(
        "--cpu-devices",
        type=int,
        help="split the CPU into this many logical devices (mirrored on a CPU-only machine)",
    )
    group.add_argument("--tpu", help="TPU name or address for --strategy tpu")
    group.add_argument(
        "--batch-size",
        type=int,
        help="GLOBAL batch over all replicas (default: the paper's); each replica gets "
        "batch / replicas",
    )

    group = parser.add_argument_group("optimisation")
    group.add_argument(
        "--recipe",
        default=DEFAULTS.recipe,
        choices=RECIPES,
        help="paper (default): the family's paper schedule; step / plateau / cosine (linear "
        "warm-up + cosine) / constant: that schedule with the paper's optimiser",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        help="used as given (default: the paper's, scaled linearly with the global batch)",
    )
    group.add_argument("--momentum", type=float, help="SGD momentum (default: the paper's)")
    group.add_argument("--nesterov", action="store_true")
    group.add_argument(
        "--weight-decay",
        type=float,
        help="the papers' lambda (update adds lambda * lr * w; loss L2 lambda / 2) on conv/dense "
        "kernels only (default: the paper's)",
    )
    group.add_argument(
        "--label-smoothing", type=float, default=DEFAULTS.label_smoothing, help="default 0"
    )
    group.add_argument("--warmup-epochs", type=float, help="linear warm-up length in epochs")
    group.add_argument(
        "--lr-boundaries",
        type=_csv(float),
        help="step schedule: epochs at which the rate is divided by 10 (default: 50%%, 75%% "
        "of the run)",
    )
    group.add_argument("--patience", type=int, default=DEFAULTS.patience, help="plateau epochs (5)")
    group.add_argument("--epochs", type=int, help="default: the paper's on its dataset, else 10")
    group.add_argument(
        "--steps-per-epoch", type=int, help="default: training images // global batch"
    )

    group = parser.add_argument_group("speed")
    group.add_argument(
        "--precision",
        default=DEFAULTS.precision,
        choices=list(PRECISIONS),
        help="float32 (default); float16 (mixed, loss scaling); bfloat16 (mixed)",
    )
    group.add_argument("--jit-compile", action="store_true", help="XLA-compile the step")
    group.add_argument("--steps-per-execution", type=int, default=DEFAULTS.steps_per_execution)

    group = parser.add_argument_group("outputs")
    group.add_argument("--output-dir", help="reports, logs, model (default runs/MODEL_DATASET)")
    group.add_argument("--checkpoint-dir", help="default OUTPUT_DIR/checkpoints")
    group.add_argument(
        "--checkpoint-every",
        type=int,
        default=DEFAULTS.checkpoint_every,
        help="also checkpoint every N steps (0: at the end of each epoch only)",
    )
    group.add_argument(
        "--keep-checkpoints", type=int, default=DEFAULTS.keep_checkpoints, help="default 3"
    )
    group.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="start over, deleting the checkpoints (default: resume from the newest)",
    )
    group.add_argument(
        "--log-every", type=int, default=DEFAULTS.log_every, help="progress every N steps (100)"
    )
    group.add_argument(
        "--evaluate",
        metavar="SAVED_MODEL",
        help="only evaluate a .keras file, a .weights.h5 file (of --model) or a checkpoint",
    )
    group.add_argument("--export-dir", help="export for TF Serving at the end (chief)")
    return parser


def parse_config(argv: Sequence[str] | None = None, description: str = "") -> RunConfig:
    """Parses the command line into a `RunConfig` (argparse errors exit with status 2)."""
    parser = build_parser(description)
    args = parser.parse_args(argv)
    values = vars(args)
    values["model_options"] = dict(values.pop("model_option"))
    try:
        return RunConfig(**values)
    except ValueError as error:
        parser.error(str(error))
