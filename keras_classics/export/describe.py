"""What a written export holds: finding its version directory, listing its signatures."""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from keras_classics.export.versions import list_versions


def resolve_saved_model(path: str | os.PathLike) -> Path:
    """`path` itself when it holds a saved_model.pb, else its newest version directory (what
    TF Serving's default version policy serves); a clear ValueError when neither."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = list_versions(path)
    if not versions:
        raise ValueError(
            f"{os.fspath(path)!r} is neither a SavedModel directory (saved_model.pb) nor a base "
            "path with integer version directories"
        )
    return path / str(versions[-1])


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
