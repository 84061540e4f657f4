"""Version directories as TF Serving reads them: `<export_base>/<integer>/`, written atomically.

TF Serving's file-system source treats every child of the model's base path whose name parses as
an integer as a version, and ignores the others. A version is therefore written under a hidden,
non-integer name and renamed into place once complete, so a crash never leaves a half-written
version for the server to load.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-version-"


def list_versions(export_base: str | os.PathLike) -> list[int]:
    """The versions under `export_base` (directories named by digits only), sorted."""
    base = Path(export_base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and p.is_dir())


def next_version(export_base: str | os.PathLike) -> int:
    """One more than the newest version under `export_base`, or 1 when there is none."""
    versions = list_versions(export_base)
    return versions[-1] + 1 if versions else 1


def resolve_version(export_base: str | os.PathLike, version: int | None) -> int:
    """`version` checked (an int >= 0 not yet exported), or the next free version when None."""
    if version is None:
        return next_version(export_base)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be an integer >= 0 or None (the next one); got {version!r}")
    if version in list_versions(export_base):
        raise FileExistsError(
            f"version {version} already exists under {os.fspath(export_base)!r}; versions are "
            f"never overwritten: pass another version, or none for the next one "
            f"({next_version(export_base)})"
        )
    return version


@contextmanager
def atomic_version_dir(export_base: str | os.PathLike, version: int) -> Iterator[Path]:
    """Yields an empty temporary directory inside `export_base`; on success it becomes
    `<export_base>/<version>` by one rename, on an error it is removed.

    The temporary name is not an integer, so TF Serving ignores it while it is being written.
    """
    base = Path(export_base)
    base.mkdir(parents=True, exist_ok=True)
    temporary = base / f"{TEMP_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        yield temporary
        final = base / str(version)
        if version in list_versions(base):  # another writer took it meanwhile
            raise FileExistsError(f"version {version} appeared under {os.fspath(base)!r} meanwhile")
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
