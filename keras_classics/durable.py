"""Crash-consistent file writes, and the fault points that test them.

Every file a run writes goes through `atomic_write` (bytes or text) or `atomic_path` (for
writers that want a path, like `model.save`): the data goes to a temporary file in the same
directory, is flushed and fsync'ed, then renamed over the target, and the directory is
fsync'ed. A reader, or a process killed at any instant, sees the old file or the new one,
never a part of one.

`fault_point(name)` is called right after each named write; with `KC_FAULT_AFTER=name` (or
`name:N`, the N-th time) in the environment it kills the process there, as a SIGKILL or a
power cut would (no cleanup, no flush). tests/faults/ resumes runs killed at each point.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FAULT_VARIABLE = "KC_FAULT_AFTER"
FAULT_EXIT_STATUS = 86
_reached: Counter[str] = Counter()


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def check_writable(path: str | os.PathLike) -> Path:
    """`path` as a Path when `atomic_path` can write it (not a directory; its nearest existing
    ancestor a writable directory, the missing ones made on writing); a ValueError naming the
    problem otherwise. Nothing is left behind."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot write {os.fspath(path)!r}: it is a directory, not a file")
    ancestor = next(p for p in path.parents if p.exists())  # Path(".") always exists
    if not ancestor.is_dir():
        raise ValueError(
            f"cannot write {os.fspath(path)!r}: {os.fspath(ancestor)!r} is a file, not a directory"
        )
    problem = _unwritable(ancestor)
    if problem is not None:
        raise ValueError(
            f"cannot write {os.fspath(path)!r}: the directory {os.fspath(ancestor)!r} is not "
            f"writable ({problem})"
        )
    return path


def _unwritable(directory: Path) -> str | None:
    """Why a file cannot be made in `directory`, or None. Permissions first; then an unnamed
    temporary file, which leaves nothing behind, for what they do not tell root (/proc, /sys,
    a read-only mount)."""
    if not os.access(directory, os.W_OK | os.X_OK):
        return "permission denied"
    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as error:
        return error.strerror or str(error)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path (same directory, same suffix) to write; renamed to `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Writes `data` (text as UTF-8) to `path` atomically and durably; returns the path."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


def fault_point(name: str) -> None:
    """Kills the process here when `KC_FAULT_AFTER` names this point (`name` or `name:N`)."""
    wanted = os.environ.get(FAULT_VARIABLE)
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(count or 1):
        os._exit(FAULT_EXIT_STATUS)
