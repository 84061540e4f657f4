"""Loading a preset's weights: downloaded, verified, converted, cached; the record attached.

The presets themselves (which file, which options, which preprocessing) are the table in
`keras_classics.weights.presets`.

Files: the download lands in `$KERAS_HOME/models/` (as keras.applications'), is verified
against the published hash (and, after the first time, against the full SHA-256 recorded
beside it then: `.sha256`), converted, and the converted weights are cached in
`$KERAS_HOME/models/keras_classics/` with their SHA-256 beside them (`.sha256`), so later
calls load them directly once the digest matches. KERAS_HOME is read
when the weights are loaded (default `~/.keras`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import keras

from keras_classics.durable import atomic_write
from keras_classics.models.record import attach_record
from keras_classics.weights.convert import CONVERTERS
from keras_classics.weights.presets import Preset, PublishedFile
from keras_classics.weights.transfer import has_top


def keras_cache_dir() -> str:
    """$KERAS_HOME (read now, not at import as Keras does), else ~/.keras: this user's own
    directory, never a shared world-writable one (another user could plant weights there)."""
    root = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    with contextlib.suppress(OSError):
        os.makedirs(root, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise ValueError(
            f"the weights cache {root} is not writable: set KERAS_HOME to a directory of yours"
        )
    return root


def file_digest(path: str, algorithm: str) -> str:
    """The hex digest of the file at `path`."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(file: PublishedFile) -> str:
    """The verified local copy of `file`: downloaded once into $KERAS_HOME/models/.

    Offline, a ValueError names the URL and the path to place the file at. A file whose hash
    differs from the published one is deleted and rejected with a ValueError.
    """
    root = keras_cache_dir()
    path = os.path.join(root, "models", file.file_name)
    if not os.path.isfile(path):
        try:
            path = keras.utils.get_file(
                file.file_name, file.url, cache_subdir="models", cache_dir=root
            )
        except Exception as error:  # urllib's errors arrive wrapped in a bare Exception
            raise ValueError(
                f"cannot download {file.url} ({error}). Offline? Fetch that file elsewhere and "
                f"place it at {path}; it is verified against its published {file.algorithm} "
                f"{file.hash} and converted on the next call."
            ) from error
    digest = file_digest(path, file.algorithm)
    if not digest.startswith(file.hash):
        os.remove(path)
        raise ValueError(
            f"{path} is corrupt or not the published file: its {file.algorithm} is {digest}, "
            f"the publisher gives {file.hash}. It was deleted; the next call downloads "
            f"{file.url} again."
        )
    _check_first_download(path, file.url)
    return path


def _check_first_download(path: str, url: str) -> None:
    """Trust on first use: the full SHA-256 of the first verified download, kept beside it
    (`.sha256`), must match every later use (and every later download) of the file.

    torchvision publishes only 32 bits of its files' SHA-256; this pins the rest.
    """
    recorded = f"{path}.sha256"
    digest = file_digest(path, "sha256")
    if not os.path.isfile(recorded):
        atomic_write(recorded, digest + "\n")
        return
    first = Path(recorded).read_text().strip()
    if digest != first:
        os.remove(path)
        raise ValueError(
            f"{path} changed since its first verified download: its sha256 is {digest}, "
            f"{recorded} holds {first}. It was deleted; the next call downloads {url} again "
            "and checks it against that record (delete the record to trust a new file)."
        )


def published_file(preset: Preset, include_top: bool) -> PublishedFile:
    """The file to download: the whole one, or the one without classifier where published."""
    return preset.file if include_top or preset.notop_file is None else preset.notop_file


def converted_path(preset: Preset, include_top: bool) -> str:
    """Where the converted weights of `preset` are cached: named by the published file's hash,
    so a changed file never loads a stale conversion."""
    digest = published_file(preset, include_top).hash[:8]
    file_name = f"{preset.name}-{digest}{'' if include_top else '_notop'}.weights.h5"
    return os.path.join(keras_cache_dir(), "models", "keras_classics", file_name)


def load_pretrained(model: keras.Model, preset: Preset) -> keras.Model:
    """Loads `preset`'s ImageNet weights into `model` (built for it); returns the model with the
    preset's preprocessing record attached (`keras_classics.models.record`).

    Uses the cached converted file when there is one; otherwise downloads (or finds) the
    published file, verifies its hash, converts it and caches the result.
    """
    include_top = has_top(model)
    cached = converted_path(preset, include_top)
    loaded = False
    recorded = f"{cached}.sha256"  # the converted file's digest, written with it
    if os.path.isfile(cached) and os.path.isfile(recorded):
        with contextlib.suppress(Exception):  # interrupted, outdated or altered: convert again
            if file_digest(cached, "sha256") == Path(recorded).read_text().strip():
                model.load_weights(cached)
                loaded = True
    if not loaded:
        CONVERTERS[preset.converter](download(published_file(preset, include_top)), model)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        partial = cached.replace(".weights.h5", f".{os.getpid()}.partial.weights.h5")
        model.save_weights(partial)
        digest = file_digest(partial, "sha256")
        os.replace(partial, cached)  # atomic: other processes see a whole file or none
        atomic_write(recorded, digest + "\n")
    record = preset.record if include_top else preset.record.without_classes()
    return attach_record(model, record)
