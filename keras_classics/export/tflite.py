"""A TFLite (LiteRT) file of an export's `serving_images` signature, carrying its preprocessing
record (docs/tflite.md).

`export_tflite(version_dir, path)` converts the SavedModel that `export_saved_model` wrote with
TensorFlow's public `tf.lite.TFLiteConverter.from_saved_model`, TFLite builtin ops only (no
Select TF ops, no custom ops: LocalResponseNormalization and the zero-padding shortcut are
builtin ops already). That is the route Keras 3's own `model.export(format="litert")` takes
(ExportArchive -> SavedModel -> `from_saved_model`), taken with the export's named signature
instead of `model.__call__` (input `keras_tensor`, output `output_0`, no logits).

The file holds one signature, `serving_images`: input `images` float32 [batch, S, S, 3],
channels last, already preprocessed; outputs `logits`, `probabilities`, `classes`,
`class_names` and `scores`, as the SavedModel's signature of that name.

There is no uint8 `image_tensor` entry: the evaluation view resizes with antialiasing
(`tf.image.resize(..., antialias=True)`, the op ScaleAndTranslate), which is neither a TFLite
builtin nor a Select TF op (TF 2.21), and a resize without it would not be the evaluation view.
So the record travels in the file: the export's metadata (`spec.METADATA_FILE`, the record
under "preprocessing", its normalisation's mean, std and channel order under "normalizer") is
packed as a zip archive appended to the flatbuffer, the TFLite Metadata convention for
associated files; interpreters ignore it, `zipfile` reads it, and a consumer preprocesses with
`keras_classics.data.evaluation.preprocess_with_record`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from keras_classics.durable import atomic_write, check_writable
from keras_classics.export import spec
from keras_classics.export.describe import resolve_saved_model
from keras_classics.export.serving import read_metadata
from keras_classics.normalization import PreprocessingRecord

SUFFIX = ".tflite"
# The export's metadata file, under the same name, inside the zip appended to the flatbuffer.
PACKED_METADATA = spec.METADATA_FILE.name
SIGNATURE = spec.SIGNATURE_IMAGES
NORMALIZER_KEY = "normalizer"


def check_tflite_path(path: str | os.PathLike) -> Path:
    """`path` as a Path when it can be written as a TFLite file (a `.tflite` name, not a
    directory, whose missing directories can be made, as the export base's are); a clear
    ValueError otherwise. Nothing is written."""
    if not os.fspath(path):
        raise ValueError(f"the TFLite file's path is empty: give a file name ending in {SUFFIX!r}")
    path = Path(path)
    if path.suffix != SUFFIX:
        raise ValueError(f"the TFLite file's name must end in {SUFFIX!r}; got {os.fspath(path)!r}")
    return check_writable(path)


def export_tflite(saved_model: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Converts the `serving_images` signature of an export to a TFLite file at `path`.

    Args:
        saved_model: a version directory written by `export_saved_model`, or its base path (the
            newest version is converted).
        path: the `.tflite` file to write (replaced if it exists; missing directories are made).

    The export's metadata, with its preprocessing record, is packed into the file
    (`read_tflite_record`). An op outside TFLite's builtins is a ValueError naming it.
    """
    path = check_tflite_path(path)
    version_dir = resolve_saved_model(saved_model)
    metadata = read_metadata(version_dir)
    record = PreprocessingRecord.from_dict(metadata["preprocessing"])
    # The normalisation's numbers beside its name, for consumers without keras_classics.
    metadata[NORMALIZER_KEY] = dataclasses.asdict(record.normalizer)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        os.fspath(version_dir), signature_keys=[SIGNATURE]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # tf.lite's ConverterError, which TensorFlow does not export
        ops = "; ".join(re.findall(r"^((?:TF Select|Custom) ops: .+)$", str(error), re.MULTILINE))
        raise ValueError(
            f"the {SIGNATURE} signature of {os.fspath(version_dir)!r} does not convert to TFLite "
            f"builtin ops ({ops or str(error).splitlines()[0]}); docs/tflite.md, 'Builtin ops'"
        ) from error
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PACKED_METADATA, json.dumps(metadata, indent=2) + "\n")
    return atomic_write(path, flatbuffer + packed.getvalue())  # a reader never sees half a file


def read_tflite_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The export metadata packed into a file `export_tflite` wrote."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(PACKED_METADATA))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ValueError(
            f"{os.fspath(path)!r} holds no keras_classics metadata ({PACKED_METADATA}): not a "
            f"file written by export_tflite ({error})"
        ) from None


def read_tflite_record(path: str | os.PathLike) -> PreprocessingRecord:
    """The preprocessing record packed into a file `export_tflite` wrote: what a consumer
    applies (`preprocess_with_record`) before feeding `images`."""
    return PreprocessingRecord.from_dict(read_tflite_metadata(path)["preprocessing"])


def tflite_runner(path: str | os.PathLike) -> Any:
    """The `serving_images` signature of a TFLite file, in `tf.lite.Interpreter` (called as
    `runner(images=batch)`, it answers a dict of NumPy arrays; any batch size)."""
    interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
    return interpreter.get_signature_runner(SIGNATURE)


def describe_tflite(path: str | os.PathLike) -> str:
    """Its size, packed record, signature inputs and outputs (name, dtype, shape; None: any
    batch size), as the interpreter loads them."""
    runner = tflite_runner(path)
    record = read_tflite_record(path)
    lines = [
        f"TFLite {os.fspath(path)} ({Path(path).stat().st_size} bytes), builtin ops only; "
        f"packed record: normalization {record.normalization}, resize {record.resize_size} "
        f"({record.interpolation}), crop {record.image_size}",
        f"signature {SIGNATURE}:",
    ]
    for kind, details in (
        ("input ", runner.get_input_details()),
        ("output", runner.get_output_details()),
    ):
        for name, detail in sorted(details.items()):
            shape = [None if size < 0 else int(size) for size in detail["shape_signature"]]
            lines.append(f"  {kind} {name}: {tf.as_dtype(detail['dtype']).name} {shape}")
    return "\n".join(lines)
