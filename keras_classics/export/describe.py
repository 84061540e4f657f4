"""What a written export holds: finding its version directory, listing its signatures."""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from keras_classics.export.versions import list_versions


def resolve_saved_model(path: str | os.PathLike, version: int | None = None) -> Path:
    """`path` itself when it holds a saved_model.pb, else its version directory `version`, by
    default the newest (what TF Serving's default version policy serves); a clear ValueError
    when neither, or when `version` is not the one `path` holds."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        if version is not None and path.name != str(version):
            raise ValueError(f"version {version} asked, but {os.fspath(path)!r} is another one")
        return path
    versions = list_versions(path)
    if not versions:
        raise ValueError(
            f"{os.fspath(path)!r} is neither a SavedModel directory (saved_model.pb) nor a base "
            "path with integer version directories"
        )
    if version is None:
        return path / str(versions[-1])
    if version not in versions:
        raise ValueError(
            f"version {version} not found under {os.fspath(path)!r}; it holds versions {versions}"
        )
    return path / str(version)


def describe_signatures(version_dir: str | os.PathLike) -> str:
    """One line per signature input and output: name, dtype and shape (None: any size), as
    TensorFlow loads them."""
    loaded = tf.saved_model.load(os.fspath(version_dir))
    lines = []
    for name, function in loaded.signatures.items():
        lines.append(f"signature {name}:")
        for key, spec in sorted(function.structured_input_signature[1].items()):
            lines.append(f"  input  {key}: {spec.dtype.name} {spec.shape.as_list()}")
        for key, spec in sorted(function.structured_outputs.items()):
            lines.append(f"  output {key}: {spec.dtype.name} {spec.shape.as_list()}")
    return "\n".join(lines)
