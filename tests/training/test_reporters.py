"""The console reporter: progress rewritten in place on a terminal, whole lines in a log,
at most every `interval` seconds, nothing on the other workers."""

from __future__ import annotations

import io
import re

import pytest

from keras_classics.training.reporters import Console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def console(stream, lines, **options) -> Console:
    options = {"epochs": 2, "steps_per_epoch": 10, "global_batch_size": 4, **options}
    return Console(lines.append, stream=stream, **options)


@pytest.mark.parametrize("tty", [False, True])
def test_progress_lines(tty):
    stream, lines = (Terminal() if tty else io.StringIO()), []
    reporter = console(stream, lines, interval=0.0)
    for step in range(1, 11):
        reporter.on_steps(0, step)
    reporter.message("epoch 1/2: ...")
    progress = stream.getvalue().split("\r")[1:] if tty else lines[:-1]
    # The first call of an epoch starts the clock (it may hold the tracing); the last step
    # is the epoch line's business.
    assert len(progress) == 8, progress
    assert re.search(r"epoch 1/2 step 2/10 \[====\.{16}\] [\d.]+ images/s, ETA \d:\d\d:\d\d$",
                     progress[0].rstrip("\n"))  # fmt: skip
    assert "step 9/10 [" in progress[-1]
    assert lines[-1] == "epoch 1/2: ..."
    if tty:  # the epoch line starts on a line of its own
        assert stream.getvalue().endswith("\n") and len(lines) == 1


def test_progress_is_rate_limited_and_only_on_the_chief():
    lines = []
    reporter = console(io.StringIO(), lines, interval=3600.0)
    for step in range(1, 10):
        reporter.on_steps(0, step)
    assert lines == []
    quiet = console(Terminal(), lines, interval=0.0, active=False)
    for step in range(1, 10):
        quiet.on_steps(0, step)
    assert lines == [] and quiet.stream.getvalue() == ""
