"""Bad command lines, one table: each ends in exactly one stderr line, `error: ...`, exit status 2
(no usage line, no traceback; the scripts' `run_script` entry point, run in-process; two through
`python`)."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from functools import cache

import pytest

from keras_classics.cli import run_script
from tests.helpers import REPO

CHINA = os.path.join(os.path.dirname(__import__("sklearn").__file__), "datasets/images/china.jpg")
TINY = ["--dataset", "synthetic", "--image-size", "8", "--batch-size", "16"]

# (script, arguments, a fragment of the error line); "{tmp}" is a fresh directory holding
# "corrupt.keras" (not a zip) and "empty.pth" (0 bytes).
BAD = [
    ("train", ["--batch-size", "0"], "batch_size must be at least 1; got 0"),
    ("train", ["--image-size", "0"], "train_crop_size must be at least 1; got 0"),
    ("train", ["--epochs", "0"], "epochs must be at least 1"),
    ("train", ["--steps-per-epoch", "-3"], "steps_per_epoch must be at least 1"),
    ("train", ["--val-crop-size", "0"], "val_crop_size must be at least 1"),
    ("train", ["--batch-size", "many"], "invalid int value: 'many'"),
    ("train", ["--model", "lenet"], "invalid choice: 'lenet'"),
    ("train", ["--strategy", "fast"], "invalid choice: 'fast'"),
    ("train", ["--precision", "int8"], "invalid choice: 'int8'"),
    ("train", ["--random-erase", "2"], "random_erase must lie in [0, 1]"),
    ("train", ["--model-ema", "1.5"], "model_ema (a decay) must lie in (0, 1)"),
    ("train", ["--keep-checkpoints", "0"], "keep_checkpoints must be at least 1"),
    ("train", ["--checkpoint-every", "-1"], "checkpoint_every must be >= 0"),
    ("train", ["--model-option", "novalue"], "must look like name=value"),
    ("train", ["--config", "{tmp}/missing.json"], "cannot read it as JSON"),
    ("train", ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ("train", ["--dataset", "nope"], "unknown TFDS dataset 'nope'"),
    ("train", [*TINY, "--resume", "{tmp}/nowhere"], "is not a checkpoint"),
    ("train", [*TINY, "--model-option", "bogus=1"], "bogus"),
    ("train", [*TINY, "--evaluate", "{tmp}/corrupt.keras"], "corrupt.keras"),
    (
        "train",
        ["--model", "cnn_1d", "--dataset", "mnist1d", "--export-dir", "{tmp}/e"],
        "export_dir: model 'cnn_1d' takes 1D signals and the TF Serving export serves images",
    ),
    ("export", [], "the following arguments are required: --export-base"),
    ("export", ["--export-base", "{tmp}/b", "--top-k", "0"], "must be at least 1, got 0"),
    ("export", ["--export-base", "{tmp}/b", "--image-size", "0"], "must be at least 1, got 0"),
    ("export", ["--export-base", "{tmp}/b", "--model", "lenet"], "invalid choice: 'lenet'"),
    ("export", ["--export-base", "{tmp}/b", "--keras-model", "{tmp}/missing.keras"], "missing"),
    ("export", ["--export-base", "{tmp}/b", "--keras-model", "{tmp}/corrupt.keras"], "corrupt"),
    ("predict", [], "the following arguments are required: images"),
    ("predict", ["{tmp}/missing.jpg"], "missing.jpg"),
    ("predict", [CHINA, "--top-k", "0"], "must be at least 1, got 0"),
    (
        "predict",
        [CHINA, "--protocol", "grpc", "--saved-model", "{tmp}"],
        "use it with --protocol rest",
    ),
    ("predict", [CHINA, "--rest-port", "1"], "refused"),
    ("predict", [CHINA, "--protocol", "grpc", "--grpc-port", "1"], "gRPC Predict UNAVAILABLE"),
    ("predict", [CHINA, "--version", "1", "--label", "stable"], "not both"),
    ("predict", [CHINA, "--saved-model", "{tmp}", "--signature", "x"], "neither a SavedModel"),
    ("predict", [CHINA, "--keras-model", "{tmp}/missing.keras"], "missing.keras"),
    ("predict", [CHINA, "--keras-model", "{tmp}/corrupt.keras"], "corrupt.keras"),
    ("predict", [CHINA, "--keras-model", "{tmp}"], "is not a .keras file"),
    ("predict", [CHINA, "--keras-model", "{tmp}/m.keras", "--saved-model", "{tmp}"], "not allowed"),
    ("predict", [CHINA, "--keras-model", "{tmp}/m.keras", "--label", "x"], "drop --label"),
    ("convert_weights", ["{tmp}/x.pth", "out.h5"], "must end with .weights.h5"),
    ("convert_weights", ["{tmp}/x.pth", "o.weights.h5", "--source", "caffe"], "invalid choice"),
    (
        "convert_weights",
        ["{tmp}/missing.pth", "{tmp}/o.weights.h5", "--model", "resnet18"],
        "missing.pth",
    ),
    (
        "convert_weights",
        ["{tmp}/empty.pth", "{tmp}/o.weights.h5", "--model", "resnet18"],
        "empty.pth",
    ),
    ("demo", ["--batch-size", "0"], "must be at least 1, got 0"),
    ("demo", ["--rows", "-2"], "must be at least 1, got -2"),
    ("demo", ["--model", "resnet20", "--model-option", "bogus=1"], "bogus"),
    ("reproduce", [], "the following arguments are required: EXPERIMENT"),
    ("reproduce", ["cifar10"], "invalid choice: 'cifar10'"),
]


@cache
def script_main(name: str):
    return runpy.run_path(str(REPO / "scripts" / f"{name}.py"))["main"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bad")
    (directory / "corrupt.keras").write_bytes(b"not a zip file")
    (directory / "empty.pth").write_bytes(b"")
    return directory


@pytest.mark.parametrize(("script", "arguments", "fragment"), BAD)
def test_a_bad_command_line_ends_in_one_error_line(script, arguments, fragment, files, capsys):
    argv = [a.replace("{tmp}", str(files)) for a in arguments]
    try:
        status = run_script(script_main(script), argv)
    except SystemExit as exit_:  # argparse's usage errors
        status = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err  # no usage, no traceback
    assert fragment.replace("{tmp}", str(files)) in lines[0], err


def test_debug_shows_the_traceback(files):
    with pytest.raises(FileNotFoundError):
        run_script(script_main("predict"), [str(files / "missing.jpg"), "--debug"])


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["predict.py", "/nonexistent/x.jpg"], "[Errno 2] No such file or directory: "
         "'/nonexistent/x.jpg'"),
        (["reproduce.py", "cifar10"], "argument EXPERIMENT: invalid choice: 'cifar10' (choose"),
    ],
)  # fmt: skip
def test_the_scripts_exit_through_the_wrapper(arguments, error):
    """`python scripts/X.py` itself: status 2 and one `error:` line, for an error after parsing
    and for a usage error: stderr is that one line (no `usage:` line, no TensorFlow start-up
    lines)."""
    script, *rest = arguments
    done = subprocess.run(
        [sys.executable, f"scripts/{script}", *rest],
        cwd=REPO,
        capture_output=True,
        text=True,
        # the user's environment: no TF_CPP_MIN_LOG_LEVEL (the scripts default it to 3)
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {error}"), done.stderr
