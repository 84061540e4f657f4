"""keras_classics._startup: TF_CPP_MIN_LOG_LEVEL also hides TensorFlow's start-up INFO lines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO


def stderr_of(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**environment, **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_only_the_info_lines_and_absl_banner_are_dropped():
    code = (
        "import os\n"
        "from keras_classics._startup import tensorflow_info_hidden\n"
        "with tensorflow_info_hidden():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
        "    os.write(2, b'I0000 00:00:1796.2 10 port.cc:153] oneDNN on.\\n')\n"
        "    os.write(2, b'E0000 00:00:1796.2 10 an error line\\n')\n"
        "    print('a warning from Python', file=__import__('sys').stderr)\n"
        "print('after', file=__import__('sys').stderr)\n"
    )
    # KERAS_BACKEND=jax: importing keras_classics leaves TensorFlow unimported, so the
    # context manager acts on the lines written here.
    hidden = stderr_of(code, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="1")
    assert hidden.splitlines() == [
        "E0000 00:00:1796.2 10 an error line",
        "a warning from Python",
        "after",
    ]
    shown = stderr_of(code, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="0")
    assert "I0000 00:00:1796.2" in shown and "absl::InitializeLog" in shown


@pytest.mark.parametrize("level", ["1", "3"])
def test_importing_the_package_on_tensorflow_is_silent(level):
    assert stderr_of("import keras_classics", TF_CPP_MIN_LOG_LEVEL=level) == ""
