"""MNIST-1D (Greydanus 2020, "Scaling down deep learning"): generated offline, cached on disk.

The `mnist1d` package GENERATES the dataset from ten 1D digit templates (padding, shear,
translation, correlated and i.i.d. noise, resampling to 40 points), seeded; this module never
calls its download path. The standard set (seed 42) has 4,000 training and 1,000 test signals
of length 40 in 10 classes, standardised to mean 0 and standard deviation 1. The shuffled
variant (`shuffle_seq=True`) applies one fixed random permutation to the 40 positions of every
signal, which removes the spatial structure convolutions exploit (the paper's Table 2, right).

The first call generates the arrays (about 2 s) and writes them as `.npz` under the cache
directory (`$KERAS_CLASSICS_CACHE/mnist1d`, default `~/.cache/keras_classics/mnist1d`); later
calls read that file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VARIANTS = {"mnist1d": False, "mnist1d_shuffled": True}  # name -> shuffle_seq
STANDARD_SEED = 42  # the seed of the published dataset and of its results table
SIGNAL_LENGTH = 40
CLASS_NAMES = [str(digit) for digit in range(10)]
SPLITS = {"train": ("x", "y"), "test": ("x_test", "y_test")}  # split -> the package's keys
INSTALL_HINT = "pip install mnist1d (it needs scipy)"


def cache_dir() -> Path:
    """Where generated MNIST-1D arrays are kept: `$KERAS_CLASSICS_CACHE/mnist1d`."""
    root = os.environ.get("KERAS_CLASSICS_CACHE") or Path.home() / ".cache" / "keras_classics"
    return Path(root) / "mnist1d"


def check_variant(name: str) -> bool:
    """`shuffle_seq` of the variant `name`; a clear error lists the valid names."""
    if name not in VARIANTS:
        raise ValueError(f"unknown MNIST-1D variant {name!r}; choose one of {list(VARIANTS)}")
    return VARIANTS[name]


def generate(name: str = "mnist1d", seed: int = STANDARD_SEED) -> dict[str, np.ndarray]:
    """Generates the variant `name` with the `mnist1d` package (no network, no cache).

    Returns float32 signals `x`, `x_test` [N, 40] and int64 labels `y`, `y_test`. NumPy's
    global random state, which the package reseeds, is restored afterwards.
    """
    shuffle_seq = check_variant(name)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise ImportError(
            f"MNIST-1D needs the `mnist1d` package, which could not be imported ({error}); "
            f"install it: {INSTALL_HINT}"
        ) from None
    args = get_dataset_args()
    args.shuffle_seq, args.seed = shuffle_seq, seed
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    except Exception as error:  # the package's own failure, whatever it is, named as such
        raise RuntimeError(
            f"the `mnist1d` package failed to generate {name} (seed {seed}): "
            f"{type(error).__name__}: {error}; reinstall it: {INSTALL_HINT}"
        ) from error
    finally:
        np.random.set_state(state)
    return {
        key: np.asarray(data[key], np.float32 if key.startswith("x") else np.int64)
        for keys in SPLITS.values()
        for key in keys
    }


def load_mnist1d(
    name: str = "mnist1d", *, seed: int = STANDARD_SEED, directory: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """The arrays of variant `name` ("mnist1d" or "mnist1d_shuffled") for dataset `seed`.

    Read from `directory` (default `cache_dir()`) when generated before, else generated and
    written there. Keys `x`, `y` (train) and `x_test`, `y_test` as in the `mnist1d` package.
    """
    check_variant(name)
    path = Path(directory or cache_dir()) / f"{name}_seed{seed}.npz"
    if path.is_file():
        with np.load(path) as archive:
            return {key: archive[key] for key in archive.files}
    data = generate(name, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, **data)
    partial.replace(path)  # atomic: concurrent readers see a whole file or none
    return data


def mnist1d_source(name: str = "mnist1d", *, seed: int = STANDARD_SEED):
    """A `DataSource` over MNIST-1D: `(signal, label)` pairs, float32 [40] and int32.

    Unlike the image sources, the elements are 1D signals already standardised by the
    generator: they need no decoding, resizing or image augmentation.
    """
    import tensorflow as tf

    from keras_classics.data.sources import DataSource, _shard

    data = load_mnist1d(name, seed=seed)

    def reader(split: str):
        x_key, y_key = SPLITS[split]

        def read(context):
            pairs = (data[x_key], data[y_key].astype(np.int32))
            return _shard(tf.data.Dataset.from_tensor_slices(pairs), context)

        return read

    return DataSource(
        name=name,
        class_names=list(CLASS_NAMES),
        readers={split: reader(split) for split in SPLITS},
        sizes={split: len(data[y_key]) for split, (_, y_key) in SPLITS.items()},
        encoded=False,
    )
