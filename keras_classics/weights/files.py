"""Reading checkpoint files into NumPy: PyTorch state dicts and keras.applications HDF5 files.

- `.pth` / `.pt`: `keras_classics.weights.pth.read_pth`, a restricted unpickler that reads
  tensor data only and needs no torch (or, with `pth_reader="torch"`, torch's own
  `torch.load(weights_only=True)`: the `torch` extra);
- `.safetensors`: `safetensors.numpy`, no torch;
- `.npz`: NumPy, one array per state-dict key;
- `.h5`: the legacy Keras HDF5 weights format of the keras.applications files (per layer, its
  weights in the layer's order), read with h5py, without building the source model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from keras_classics.weights.pth import read_pth

STATE_DICT_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")
PTH_READERS = ("builtin", "torch")
KERAS_H5_SUFFIXES = (".h5",)


def to_numpy(value: Any) -> np.ndarray:
    """A torch tensor or array-like -> NumPy; floating point values become float32."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        value = value.numpy()
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    return array


def _require(module: str, path: str, hint: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise ValueError(f"reading {path!r} needs {module.split('.')[0]}; {hint}") from error


def read_state_dict(
    source: str | os.PathLike | Mapping[str, Any], pth_reader: str = "builtin"
) -> dict[str, np.ndarray]:
    """A PyTorch state dict as {key: NumPy array}, from a file or a mapping of tensors/arrays.

    A `.pth` file is read by `pth_reader`: "builtin" (no torch; a pickle that would run code is
    refused) or "torch" (`torch.load(weights_only=True)`). `.safetensors` and `.npz` files need
    no torch. A checkpoint that wraps the state dict under "state_dict" or "model" is unwrapped.
    """
    if pth_reader not in PTH_READERS:
        raise ValueError(f"pth_reader={pth_reader!r} is not valid; choose one of {PTH_READERS}")
    if isinstance(source, Mapping):
        state = source
    else:
        path = os.fspath(source)
        if not path.endswith(STATE_DICT_SUFFIXES):
            raise ValueError(
                f"state dict file {path!r} must end with one of {list(STATE_DICT_SUFFIXES)}"
            )
        if not os.path.isfile(path):
            raise ValueError(f"state dict file {path!r} does not exist")
        if path.endswith(".safetensors"):
            numpy_io = _require("safetensors.numpy", path, "pip install safetensors")
            state = numpy_io.load_file(path)
        elif path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as arrays:
                state = {key: arrays[key] for key in arrays.files}
        elif pth_reader == "builtin":
            state = read_pth(path)
        else:
            hint = "pip install keras_classics[torch], or use the builtin reader"
            torch = _require("torch", path, hint)
            state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping):
            raise ValueError(f"{path!r} holds a {type(state).__name__}, not a state dict")
    for wrapper in ("state_dict", "model"):
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    return {str(key): to_numpy(value) for key, value in state.items()}


def read_keras_h5(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """{layer name: its weights} of a legacy Keras HDF5 weights file (keras.applications)."""
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Keras weights file {path!r} does not exist")
    try:
        with h5py.File(path, "r") as file:
            group = file.get("model_weights", file)  # a whole-model .h5 nests its weights
            weights = {}
            for name in _attribute(group, "layer_names"):
                layer = group[name]
                values = [np.asarray(layer[w]) for w in _attribute(layer, "weight_names")]
                if values:
                    weights[name] = [to_numpy(v) for v in values]
            return weights
    except (OSError, KeyError) as error:
        raise ValueError(
            f"{path!r} cannot be read as a Keras HDF5 weights file (corrupt, or not the "
            f"legacy .h5 format of keras.applications): {error}"
        ) from error


def _attribute(group: Any, name: str) -> list[str]:
    """A string-list attribute, also when HDF5's header limit split it into name0, name1, ..."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    return [n.decode("utf8") if hasattr(n, "decode") else str(n) for c in chunks for n in c]
