"""Training processes for the kill-and-resume and multi-worker tests: start, watch, kill."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable

from tests.helpers import REPO

TRAIN = [sys.executable, "scripts/train.py"]
# The smallest real run: CIFAR ResNet-20 on 8x8 synthetic images.
TINY = ["--model", "resnet20", "--dataset", "synthetic", "--image-size", "8", "--batch-size", "16"]


class Training:
    """`scripts/train.py` with `args` in a subprocess; stdout read line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, timeout: int = 300):
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives with the process)
        self.process = subprocess.Popen(
            [*TRAIN, *args],
            cwd=REPO,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._watchdog = threading.Timer(timeout, self.process.kill)
        self._watchdog.start()
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def until(self, predicate: Callable[[str], bool]) -> str:
        """Reads lines until one satisfies `predicate`; fails if the process ends first."""
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if predicate(line):
                return line
        raise AssertionError(f"the line never came:\n{self.output()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.finish(expect=-signal.SIGKILL)

    def finish(self, expect: int = 0) -> str:
        """Waits for the end; checks the exit status; returns all of stdout."""
        rest, _ = self.process.communicate()
        self._watchdog.cancel()
        self.lines += rest.splitlines()
        assert self.process.returncode == expect, self.output()
        return "\n".join(self.lines)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def output(self) -> str:
        return "\n".join(self.lines) + "\n--- stderr ---\n" + self.stderr()[-5000:]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_configs(ports: list[int]) -> list[dict[str, str]]:
    """One TF_CONFIG environment per worker of a localhost cluster."""
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return [
        {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        for i in range(len(ports))
    ]


def resumed_from(output: str) -> tuple[int, int, int]:
    """(checkpoint number, epochs done, steps into the next epoch) of a 'resumed' line."""
    match = re.search(r"resumed from \S+ckpt-(\d+): (\d+) epoch\(s\) done, (\d+) step", output)
    assert match, output
    return tuple(int(g) for g in match.groups())


def digest(output: str) -> str:
    match = re.search(r"weights digest \(\S+\): (\w+)", output)
    assert match, output
    return match.group(1)
