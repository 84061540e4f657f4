"""Where images come from: TFDS datasets, image folders, NumPy arrays, the embedded digits.

Every source is a `DataSource`: class names, split names and sizes, and `dataset(split)`, a
tf.data.Dataset of `(image, label)` pairs with int32 labels. File-backed sources (TFDS, image
folders) yield the ENCODED bytes (a tf.string scalar), so that training can decode only the
random crop it needs (`tf.image.decode_and_crop_jpeg`); in-memory sources (arrays, digits) yield
uint8 RGB [H, W, 3]. `DataSource.encoded` says which; the pipelines accept both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_classics.data.decode import decode_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
EMBEDDED = ("digits",)
EVAL_SPLIT_NAMES = ("validation", "test")

SplitReader = Callable[[tf.distribute.InputContext | None], tf.data.Dataset]


@dataclass
class DataSource:
    """A dataset's splits (readers), sizes and class names.

    `dataset(split, input_context)` reads one split; with an `InputContext` each input
    pipeline (worker) reads a distinct shard: distinct files where the source has files.
    `skipped` lists (path, reason) of the entries of an image folder that cannot be read.
    """

    name: str
    class_names: list[str]
    readers: dict[str, SplitReader]
    sizes: dict[str, int]
    encoded: bool
    train_split: str = "train"
    eval_split: str = "test"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def splits(self) -> list[str]:
        return list(self.readers)

    def dataset(
        self, split: str, input_context: tf.distribute.InputContext | None = None
    ) -> tf.data.Dataset:
        """`(image, label)` elements of `split`, sharded by `input_context` when given."""
        if split not in self.readers:
            raise ValueError(f"{self.name} has no split {split!r}; choose one of {self.splits}")
        return self.readers[split](input_context)

    def describe(self) -> str:
        """One line: name, classes, split sizes and skipped files."""
        sizes = ", ".join(f"{split} {size}" for split, size in self.sizes.items())
        skipped = f"; skipped {len(self.skipped)} unreadable entries" if self.skipped else ""
        return f"{self.name}: {self.num_classes} classes; {sizes}{skipped}"


def _shard(dataset: tf.data.Dataset, context: tf.distribute.InputContext | None):
    if context is None or context.num_input_pipelines == 1:
        return dataset
    return dataset.shard(context.num_input_pipelines, context.input_pipeline_id)


def stratified_split(
    labels: Sequence[int], validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): a seeded shuffle per class, `validation_fraction` of each.

    Reproducible: the same labels (in the same order) and seed give the same split. Each class
    keeps at least one training example.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1); got {validation_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(round(len(members) * validation_fraction), len(members) - 1)
        validation.append(members[:count])
        train.append(members[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))


# ----------------------------------------------------------------------------- arrays


def _rgb_uint8(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name}: images must be [N, H, W], [N, H, W, 1] or [N, H, W, 3]; got {images.shape}"
        )
    if images.dtype != np.uint8:
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(f"{name}: pixel values must be in [0, 255] (RGB, uint8 scale)")
        images = np.round(images).astype(np.uint8)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def from_arrays(
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    class_names: Sequence[str] | None = None,
    name: str = "arrays",
) -> DataSource:
    """A source over in-memory arrays: `splits` maps split name -> (images, labels).

    Images are [N, H, W(, C)] with C 1 or 3 on the 0-255 scale (grayscale becomes RGB); labels
    are integers in [0, classes). Without `class_names` the classes are "0", "1", ... up to the
    largest label. The first split is the training split, the last the evaluation split.
    """
    if not splits:
        raise ValueError("from_arrays needs at least one split, e.g. {'train': (x, y)}")
    prepared = {}
    for split, (images, labels) in splits.items():
        images = _rgb_uint8(images, f"split {split!r}")
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"split {split!r}: {len(images)} images but {len(labels)} labels")
        prepared[split] = (images, labels.astype(np.int64))
    top = max(int(labels.max()) for _, labels in prepared.values() if len(labels))
    class_names = list(class_names) if class_names is not None else [str(i) for i in range(top + 1)]
    for split, (_, labels) in prepared.items():
        bad = labels[(labels < 0) | (labels >= len(class_names))]
        if len(bad):
            raise ValueError(
                f"split {split!r}: label {int(bad[0])} is out of range for {len(class_names)} "
                f"classes (valid labels are 0..{len(class_names) - 1})"
            )

    def reader(split: str) -> SplitReader:
        images, labels = prepared[split]

        def read(context):
            dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
            return _shard(dataset, context)

        return read

    names = list(prepared)
    return DataSource(
        name=name,
        class_names=class_names,
        readers={split: reader(split) for split in names},
        sizes={split: len(prepared[split][1]) for split in names},
        encoded=False,
        train_split=names[0],
        eval_split=names[-1],
    )


def load_digits(validation_fraction: float = 0.2, seed: int = 0) -> DataSource:
    """The embedded dataset: 1,797 handwritten digits, 8x8 pixels, 10 classes, no download.

    The "Optical Recognition of Handwritten Digits" test set of the UCI Machine Learning
    Repository (E. Alpaydin, C. Kaynak, 1998; licence CC BY 4.0), as shipped by scikit-learn
    (`sklearn.datasets.load_digits`): 8x8 blocks counting set pixels of 32x32 bitmaps, values
    0..16, stored here rescaled to 0..255 and served as RGB. Split into train / test (a seeded
    stratified 80/20 split, identical on every machine).
    """
    with resources.files("keras_classics.data").joinpath("embedded/digits.npz").open("rb") as f:
        archive = np.load(f)
        images, labels = archive["images"], archive["labels"].astype(np.int64)
    images = np.round(images.astype(np.float32) * (255.0 / 16.0)).astype(np.uint8)
    train, test = stratified_split(labels, validation_fraction, seed)
    return from_arrays(
        {"train": (images[train], labels[train]), "test": (images[test], labels[test])},
        class_names=[str(i) for i in range(10)],
        name="digits",
    )


# ----------------------------------------------------------------------------- image folder


def _unreadable(path: Path) -> str | None:
    """None when `path` is a regular file TensorFlow decodes fully as an RGB image within the
    pixel limit, else the reason it is skipped."""
    try:
        os.fsencode(str(path)).decode("utf-8")
    except UnicodeDecodeError:
        return "the file name is not UTF-8"
    if not path.exists():
        return "a dangling link" if path.is_symlink() else "missing"
    if not path.is_file():
        return "not a regular file"
    try:
        # a JPEG at 1/8 scale: every byte is still entropy-decoded (a corrupt file fails
        # as at full size), in 1/64 of the memory
        image = decode_image(tf.io.read_file(str(path)), min_side=1)
        if image.shape[0] == 0 or image.shape[1] == 0:
            return "empty image"
    except (tf.errors.OpError, OSError) as error:
        text = str(getattr(error, "message", error)).strip()
        return (text.splitlines() or [type(error).__name__])[0][:200]
    return None


def _shown(path: Path) -> str:
    """A path printable whatever its bytes (a non-UTF-8 name shows its escapes)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def from_folder(
    directory: str | os.PathLike,
    *,
    validation_fraction: float = 0.1,
    seed: int = 0,
    verify: bool = True,
) -> DataSource:
    """A source over `directory/<class name>/<image files>` (JPEG, PNG, BMP, GIF).

    Classes are the sub-folder names in sorted order. Every class folder must hold at least one
    image (an empty class would silently shrink the label space) and there must be at least two
    classes. The split is `stratified_split(validation_fraction, seed)` over the sorted file
    list: reproducible. With `verify` every file is decoded once up front; entries that cannot
    be read (truncated or not an image, over the pixel limit, a dangling link, a directory
    named like an image, a name that is not UTF-8) are skipped and listed with the reason in
    `DataSource.skipped`.
    Without it, undecodable files are skipped during reading (`ignore_errors`) and not counted.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist or is not a directory")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise ValueError(
            f"image folder {str(root)!r} has {len(class_dirs)} class sub-folder(s); a classifier "
            "needs at least two (layout: <folder>/<class name>/<image files>)"
        )
    paths, labels, skipped = [], [], []
    for label, class_dir in enumerate(class_dirs):
        entries = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if verify:
            with ThreadPoolExecutor(os.cpu_count()) as pool:  # TF decoders release the GIL
                reasons = list(pool.map(_unreadable, entries))
            skipped += [(_shown(p), why) for p, why in zip(entries, reasons, strict=True) if why]
            entries = [p for p, why in zip(entries, reasons, strict=True) if not why]
        files = [str(p) for p in entries]
        if not files:
            raise ValueError(
                f"class folder {str(class_dir)!r} holds no decodable image "
                f"({', '.join(IMAGE_EXTENSIONS)}); remove it or add images"
            )
        paths += files
        labels += [label] * len(files)
    train, validation = stratified_split(labels, validation_fraction, seed)
    chosen = {"train": train, "validation": validation} if len(validation) else {"train": train}

    def reader(indices: np.ndarray) -> SplitReader:
        split_paths = [paths[i] for i in indices]
        split_labels = np.asarray([labels[i] for i in indices], np.int32)

        def read(context):
            dataset = _shard(
                tf.data.Dataset.from_tensor_slices((split_paths, split_labels)), context
            )
            dataset = dataset.map(
                lambda path, label: (tf.io.read_file(path), label),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            return dataset if verify else dataset.ignore_errors(log_warning=True)

        return read

    return DataSource(
        name=root.name,
        class_names=[d.name for d in class_dirs],
        readers={split: reader(indices) for split, indices in chosen.items()},
        sizes={split: len(indices) for split, indices in chosen.items()},
        encoded=True,
        train_split="train",
        eval_split=list(chosen)[-1],
        skipped=skipped,
    )


# ----------------------------------------------------------------------------- TFDS


def _missing_dataset_message(name: str, builder, data_dir: str | None, manual_dir) -> str:
    where = data_dir or "~/tensorflow_datasets"
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if instructions:
        manual = os.fspath(manual_dir) if manual_dir else os.path.join(where, "downloads", "manual")
        return (
            f"TFDS dataset {name!r} is not prepared in {where!r} and needs a manual download. "
            f"Put the files described below in {manual!r} (or pass manual_dir / --manual-dir), "
            f"then run again with download=True (--download) to prepare it once:\n"
            f"{instructions.strip()}"
        )
    return (
        f"TFDS dataset {name!r} is not prepared in {where!r}. Run once with download=True "
        f"(--download) on a machine with internet access, or copy a prepared "
        f"'{name}/<version>/' folder from another machine into {where!r}."
    )


def from_tfds(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    manual_dir: str | os.PathLike | None = None,
    download: bool = False,
    image_key: str = "image",
    label_key: str = "label",
) -> DataSource:
    """A TFDS image-classification dataset (`cifar10`, `imagenette`, `imagenet2012`, ...).

    Images stay encoded (`tfds.decode.SkipDecoding`). The evaluation split is "validation"
    or "test", whichever exists. With an `InputContext`, TFDS gives each input pipeline distinct
    files (`tfds.ReadConfig(input_context=...)`). `download=True` downloads and prepares the
    dataset (for `imagenet2012` from the archives in `manual_dir`); a dataset that is not
    prepared otherwise raises a ValueError saying what to download and where to put it.
    """
    import tensorflow_datasets as tfds

    data_dir = os.fspath(data_dir) if data_dir is not None else None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"unknown TFDS dataset {name!r}; image-classification examples: cifar10, cifar100, "
            "imagenette, imagenet2012, oxford_flowers102 (all names: tfds.list_builders()), "
            f"or an image folder path, or one of the embedded datasets {list(EMBEDDED)}"
        ) from None
    features = builder.info.features
    if image_key not in features or label_key not in features:
        raise ValueError(
            f"TFDS dataset {name!r} has features {list(features)}; an image-classification "
            f"dataset needs {image_key!r} and {label_key!r}"
        )
    download_config = tfds.download.DownloadConfig(
        manual_dir=os.fspath(manual_dir) if manual_dir else None
    )

    def load(split: str, context=None) -> tf.data.Dataset:
        try:
            dataset = tfds.load(
                name,
                split=split,
                data_dir=data_dir,
                download=download,
                download_and_prepare_kwargs={"download_config": download_config},
                decoders={image_key: tfds.decode.SkipDecoding()},
                read_config=tfds.ReadConfig(input_context=context),
            )
        except (AssertionError, tfds.core.download.util.DownloadError, OSError) as error:
            message = _missing_dataset_message(name, builder, data_dir, manual_dir)
            raise ValueError(f"{message}\n(TFDS said: {str(error).splitlines()[0]})") from None
        return dataset.map(
            lambda e: (e[image_key], tf.cast(e[label_key], tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    split_names = list(builder.info.splits) or ["train", "test"]  # mocked TFDS has none
    eval_split = next((s for s in EVAL_SPLIT_NAMES if s in split_names), split_names[-1])
    splits = ["train", eval_split] if "train" in split_names else split_names

    load(splits[0])  # fails now, with the message above, if the data is not there

    def reader(split: str) -> SplitReader:
        return lambda context: load(split, context)

    def size(split: str) -> int:
        if split in builder.info.splits:
            return builder.info.splits[split].num_examples
        return int(load(split).reduce(0, lambda count, _: count + 1))

    return DataSource(
        name=name,
        class_names=list(features[label_key].names),
        readers={split: reader(split) for split in splits},
        sizes={split: size(split) for split in splits},
        encoded=True,
        train_split=splits[0],
        eval_split=splits[-1],
    )


def load_source(
    name: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    manual_dir: str | os.PathLike | None = None,
    download: bool = False,
    seed: int = 0,
) -> DataSource:
    """A source by name: an embedded dataset ("digits"), an MNIST-1D variant ("mnist1d",
    "mnist1d_shuffled": generated by the `mnist1d` package and cached), an image-folder path, or
    a TFDS name. `seed` chooses the digits' train/test split; MNIST-1D has a fixed split."""
    from keras_classics.data import mnist1d

    if isinstance(name, str) and name in EMBEDDED:
        return load_digits(seed=seed)
    if isinstance(name, str) and name in mnist1d.VARIANTS:
        return mnist1d.mnist1d_source(name)
    if os.path.isdir(name):
        return from_folder(name, seed=seed)
    if not isinstance(name, str) or os.sep in name:
        raise ValueError(
            f"dataset {os.fspath(name)!r} is not an existing image folder, an embedded or "
            f"generated dataset {[*EMBEDDED, *mnist1d.VARIANTS]} or a TFDS name"
        )
    return from_tfds(name, data_dir=data_dir, manual_dir=manual_dir, download=download)
