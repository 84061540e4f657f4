"""Reading PyTorch `.pth` checkpoints without torch, safely.

A `torch.save` file is a pickle of the state dict whose tensors point at raw storages: in a zip
archive (`<name>/data.pkl` and `<name>/data/<key>`, torch >= 1.6) or, in the legacy format,
appended after the pickle. Unpickling may call any importable function, so a checkpoint can run
code (`os.system`) when loaded. `read_pth` uses a restricted unpickler that resolves only the
few names a state dict needs (`ALLOWED`: the ordered dict, the tensor and parameter rebuild
calls, the typed storages) to local NumPy functions; any other name is refused with a
ValueError before anything is called. No torch import, no code from the file runs.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

# The storage types torch.save names -> NumPy dtypes (bfloat16: raw uint16, widened below).
STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Storage:
    """A storage's dtype marker (what `torch.FloatStorage` etc. resolve to)."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *_: Any) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2: a strided view of `storage`, copied."""
    array = storage[offset:]
    strides = tuple(s * array.itemsize for s in stride)
    view = np.lib.stride_tricks.as_strided(array, shape=tuple(size), strides=strides)
    return np.array(view)


def _rebuild_parameter(data, *_: Any) -> np.ndarray:
    """torch._utils._rebuild_parameter: a parameter is its data."""
    return data


ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _Storage(name) for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `ALLOWED` names; storages come from `load_storage(key, storage, numel)`."""

    def __init__(self, file, path: str, load_storage) -> None:
        super().__init__(file)
        self.path, self.load_storage = path, load_storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise ValueError(
                f"{self.path!r} is refused: its pickle asks for {module}.{name}, which a "
                "state dict of tensors never needs (a checkpoint that would run code when "
                "loaded). Nothing was run. Only tensor data is read: "
                f"{sorted('.'.join(k) for k in ALLOWED)}"
            )
        return ALLOWED[(module, name)]

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and pid[:1] == ("storage",) and len(pid) >= 5):
            raise ValueError(f"{self.path!r} has an unknown persistent id {pid!r:.80}")
        storage, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(storage, _Storage):
            raise ValueError(f"{self.path!r} names an unknown storage type {storage!r:.80}")
        return self.load_storage(str(key), storage, int(numel))


def _array(data: bytes, storage: _Storage, numel: int, big_endian: bool) -> np.ndarray:
    dtype = storage.dtype.newbyteorder(">" if big_endian else "<")
    array = np.frombuffer(data, dtype=dtype, count=numel)
    if storage.name == "BFloat16Storage":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(storage.dtype.newbyteorder("="), copy=False)


def _read_zip(path: str, archive: zipfile.ZipFile) -> Any:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pickles) != 1:
        raise ValueError(f"{path!r} is a zip file but not a torch.save checkpoint (no data.pkl)")
    prefix = pickles[0][: -len("data.pkl")]
    names = set(archive.namelist())
    big_endian = (
        f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() == b"big"
    )

    def load_storage(key: str, storage: _Storage, numel: int) -> np.ndarray:
        data = archive.read(f"{prefix}data/{key}")
        return _array(data, storage, numel, big_endian)

    with archive.open(pickles[0]) as file:
        return _RestrictedUnpickler(file, path, load_storage).load()


def _read_legacy(path: str, file: io.BufferedReader) -> Any:
    """torch's pre-1.6 format: magic, protocol, system info, the object, storage keys, data.

    The storages' data follows the pickle, so the object is unpickled twice: once to learn
    the storages (placeholders), then, after reading their data, with the real arrays.
    """
    unpickle = lambda load_storage=None: _RestrictedUnpickler(file, path, load_storage).load()  # noqa: E731
    if unpickle() != LEGACY_MAGIC:
        raise ValueError(f"{path!r} is neither a zip nor a legacy torch.save file")
    unpickle()  # protocol version
    big_endian = not unpickle().get("little_endian", True)
    start = file.tell()
    storages: dict[str, tuple[_Storage, int]] = {}

    def placeholder(key: str, storage: _Storage, numel: int) -> np.ndarray:
        storages[key] = (storage, numel)
        return np.zeros(numel, storage.dtype)

    unpickle(placeholder)
    arrays = {}
    for key in unpickle():
        storage, numel = storages[key]
        count = int(np.frombuffer(file.read(8), "<i8")[0])
        arrays[key] = _array(file.read(count * storage.dtype.itemsize), storage, numel, big_endian)
    file.seek(start)
    return unpickle(lambda key, *_: arrays[key])


def read_pth(path: str | os.PathLike) -> Any:
    """The object a `.pth` file holds (a state dict: {name: NumPy array}), read without torch.

    A pickle that names anything but tensor data is refused with a ValueError; nothing runs.
    """
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return _read_zip(path, archive)
    with open(path, "rb") as file:
        try:
            return _read_legacy(path, file)
        except (pickle.UnpicklingError, EOFError, AttributeError) as error:
            raise ValueError(f"{path!r} cannot be read as a torch.save file: {error}") from None
