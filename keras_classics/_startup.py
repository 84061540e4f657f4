"""Importing Keras (and TensorFlow, when Keras runs on it) without TensorFlow's start-up lines.

TensorFlow 2.21 logs INFO lines (oneDNN, CUDA stub) through absl before absl is initialised,
with absl's banner "WARNING: All log messages before absl::InitializeLog() is called ...", so
`TF_CPP_MIN_LOG_LEVEL`, the variable meant to hide INFO, does not hide them. When that variable
asks for INFO to be hidden (1 or more), the import runs with stderr (file descriptor 2) sent to
a temporary file, and every line except those INFO lines and the banner is written back.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# absl's INFO lines ("I1130 04:12:27.123 ..." or, before initialisation, "I0000 ...") and banner
_HIDDEN = re.compile(rb"^(I\d{4} \d\d:\d\d:|WARNING: All log messages before absl::InitializeLog)")


def hides_info() -> bool:
    """Whether `TF_CPP_MIN_LOG_LEVEL` asks for TensorFlow's INFO lines to be hidden."""
    level = os.environ.get(LOG_LEVEL_VARIABLE, "0").strip()
    return level.isdigit() and int(level) >= 1


@contextlib.contextmanager
def tensorflow_info_hidden() -> Iterator[None]:
    """Runs the body with TensorFlow's start-up INFO lines dropped from stderr (see above);
    does nothing unless `hides_info()` and TensorFlow is not imported yet."""
    if "tensorflow" in sys.modules or not hides_info():
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        stderr = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(stderr, 2)
            os.close(stderr)
            captured.seek(0)
            lines = captured.read().splitlines(keepends=True)
            kept = b"".join(line for line in lines if not _HIDDEN.match(line))
            if kept:
                os.write(2, kept)
