"""Sources: embedded digits, arrays, image folders (with broken files), TFDS (mocked)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_classics.data import from_arrays, from_folder, load_digits, load_source
from keras_classics.data.sources import stratified_split
from tests.data.conftest import jpeg_bytes, smooth_picture, write_image


def forged_jpeg(jpeg: bytes, height: int, width: int) -> bytes:
    """`jpeg` with its frame header (SOF0) claiming another size: a decompression bomb's
    header, with none of its cost."""
    at = jpeg.index(b"\xff\xc0") + 5
    return jpeg[:at] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[at + 4 :]


def _elements(source, split):
    return [(image.numpy(), int(label)) for image, label in source.dataset(split)]


def test_digits_ship_with_the_package_and_split_reproducibly():
    source = load_source("digits")
    assert source.class_names == [str(i) for i in range(10)]
    assert source.sizes == {"train": 1438, "test": 359}  # 1,797 images, stratified 80/20
    train = _elements(source, "train")
    image, _ = train[0]
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert max(image.max() for image, _ in train) == 255  # 0..16 rescaled to 0..255
    assert (image[..., 0] == image[..., 2]).all()  # grayscale served as RGB
    labels = np.array([label for _, label in train])
    assert np.bincount(labels, minlength=10).min() >= 139  # every class in train
    again = _elements(load_digits(), "train")
    assert all((a[0] == b[0]).all() and a[1] == b[1] for a, b in zip(train, again, strict=True))


def test_stratified_split_is_seeded_and_keeps_every_class():
    labels = [0] * 10 + [1] * 3 + [2]
    train, validation = stratified_split(labels, 0.3, seed=5)
    assert sorted([*train, *validation]) == list(range(14))
    assert sorted(np.asarray(labels)[validation].tolist()) == [0, 0, 0, 1]  # class 2 stays
    assert np.array_equal(stratified_split(labels, 0.3, seed=5)[1], validation)
    assert not np.array_equal(stratified_split(labels, 0.3, seed=6)[1], validation)
    with pytest.raises(ValueError, match=r"validation_fraction must be in \[0, 1\)"):
        stratified_split(labels, 1.0, seed=0)


def test_arrays_source_converts_grayscale_and_checks_labels(rng):
    gray = rng.integers(0, 256, (5, 6, 7)).astype("uint8")
    source = from_arrays({"train": (gray, [0, 1, 2, 1, 0])}, class_names=["a", "b", "c"])
    image, label = _elements(source, "train")[3]
    assert image.shape == (6, 7, 3) and (image == gray[3][..., None]).all() and label == 1
    assert source.sizes == {"train": 5} and source.eval_split == "train"
    with pytest.raises(
        ValueError, match=r"label 3 is out of range for 3 classes \(valid labels are 0..2\)"
    ):
        from_arrays({"train": (gray, [0, 1, 2, 3, 0])}, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="label -1 is out of range"):
        from_arrays({"train": (gray, [0, 1, -1, 1, 0])})
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        from_arrays({"train": (gray, [0, 1, 2, 1])})
    with pytest.raises(ValueError, match=r"\[N, H, W\], \[N, H, W, 1\] or \[N, H, W, 3\]"):
        from_arrays({"train": (rng.uniform(0, 1, (2, 4, 4, 2)), [0, 1])})
    with pytest.raises(ValueError, match=r"pixel values must be in \[0, 255\]"):
        from_arrays({"train": (gray * 2.0, [0] * 5)})


def test_folder_source_reads_every_format_with_a_reproducible_split(image_folder):
    source = from_folder(image_folder, validation_fraction=0.34, seed=3)
    assert source.class_names == ["cat", "dog", "fox"]
    assert source.sizes == {"train": 12, "validation": 6} and not source.skipped
    assert source.encoded and source.eval_split == "validation"
    train = _elements(source, "train")
    assert all(isinstance(encoded, bytes) for encoded, _ in train)
    assert sorted({label for _, label in train}) == [0, 1, 2]
    again = from_folder(image_folder, validation_fraction=0.34, seed=3)
    assert [e for e, _ in _elements(again, "validation")] == [
        e for e, _ in _elements(source, "validation")
    ]


def test_folder_source_skips_and_counts_broken_files_and_converts_odd_ones(tmp_path, rng):
    root = tmp_path / "mixed"
    pixels = smooth_picture(rng, 30, 40)
    good = jpeg_bytes(pixels)
    (root / "a").mkdir(parents=True)
    (root / "a" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "a" / "not_an_image.jpg").write_text("this is a text file, not a JPEG")
    (root / "a" / "notes.txt").write_text("ignored: not an image extension")
    write_image(root / "a" / "cmyk.jpg", pixels, "JPEG", mode="CMYK")
    write_image(root / "b" / "gray.png", pixels, "PNG", mode="L")
    write_image(root / "b" / "rgba.png", pixels, "PNG", mode="RGBA")
    (root / "b" / "dangling.jpg").symlink_to(root / "gone.jpg")
    (root / "b" / "folder.jpg").mkdir()
    (root / "b" / "folder.jpg" / "inner.txt").write_text("a directory named like an image")
    (root / "b").joinpath(b"caf\xe9.jpg".decode(errors="surrogateescape")).write_bytes(good)
    (root / "b" / "bomb.jpg").write_bytes(forged_jpeg(good, 12000, 12000))
    source = from_folder(root, validation_fraction=0.0)
    reasons = {path.split("/")[-1]: reason for path, reason in source.skipped}
    assert sorted(reasons) == [
        "bomb.jpg", "caf\\xe9.jpg", "dangling.jpg", "folder.jpg", "not_an_image.jpg",
        "truncated.jpg",
    ]  # fmt: skip
    assert reasons["dangling.jpg"] == "a dangling link"
    assert reasons["folder.jpg"] == "not a regular file"
    assert reasons["caf\\xe9.jpg"] == "the file name is not UTF-8"
    assert (
        "image too large: 12000 x 12000 pixels, over the limit of 89,478,485" in reasons["bomb.jpg"]
    )
    assert all(reasons.values())
    assert "skipped 6 unreadable entries" in source.describe()
    assert source.sizes == {"train": 3}
    decoded = {
        label: tf.io.decode_image(encoded, channels=3).numpy()
        for encoded, label in _elements(source, "train")
        if label == 0
    }
    assert decoded[0].shape == (30, 40, 3)  # CMYK -> RGB
    assert np.abs(decoded[0].astype(float) - pixels).mean() < 20
    for encoded, _ in _elements(source, "train"):
        assert tf.io.decode_image(encoded, channels=3).shape == (30, 40, 3)  # gray, RGBA


def test_folder_source_without_verify_skips_broken_files_while_reading(tmp_path, rng):
    root = tmp_path / "unverified"
    write_image(root / "a" / "good.png", smooth_picture(rng, 20, 20), "PNG")
    write_image(root / "b" / "good.png", smooth_picture(rng, 20, 20), "PNG")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    source = from_folder(root, validation_fraction=0.0, verify=False)
    assert source.sizes == {"train": 3} and not source.skipped  # not known up front
    from keras_classics.data import make_dataset

    batches = make_dataset(source, "train", recipe="cifar", batch_size=1, training=False)
    assert sum(int(labels.shape[0]) for _, labels in batches) == 2  # broken one dropped


def test_folder_source_errors_name_the_problem(tmp_path, rng):
    with pytest.raises(ValueError, match="does not exist or is not a directory"):
        from_folder(tmp_path / "missing")
    write_image(tmp_path / "one" / "only" / "x.png", smooth_picture(rng, 8, 8), "PNG")
    with pytest.raises(
        ValueError, match=r"has 1 class sub-folder\(s\); a classifier needs at least two"
    ):
        from_folder(tmp_path / "one")
    write_image(tmp_path / "two" / "full" / "x.png", smooth_picture(rng, 8, 8), "PNG")
    (tmp_path / "two" / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*empty.* holds no decodable image"):
        from_folder(tmp_path / "two")
    (tmp_path / "two" / "empty" / "bad.jpg").write_text("no")  # only undecodable -> same error
    with pytest.raises(ValueError, match="holds no decodable image"):
        from_folder(tmp_path / "two")


def test_tfds_source_mocked(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        source = load_source("cifar10", data_dir=tmp_path)
        assert source.num_classes == 10 and len(set(source.class_names)) == 10
        assert source.train_split == "train" and source.eval_split == "test"
        assert source.sizes == {"train": 6, "test": 6}
        encoded, label = _elements(source, "train")[0]
        assert tf.io.decode_image(encoded, channels=3).shape == (32, 32, 3)  # real PNG bytes
        assert 0 <= label < 10


def test_tfds_missing_and_unknown_datasets_say_what_to_do(tmp_path):
    with pytest.raises(
        ValueError, match=r"(?s)needs a manual download.*ILSVRC2012_img_train.tar"
    ) as error:
        load_source("imagenet2012", data_dir=tmp_path, manual_dir=tmp_path / "manual")
    assert str(tmp_path / "manual") in str(error.value)
    with pytest.raises(ValueError, match=r"is not prepared in .*Run once with download=True"):
        load_source("imagenette", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown TFDS dataset 'no_such_set'.*cifar10"):
        load_source("no_such_set")
    with pytest.raises(ValueError, match="not an existing image folder"):
        load_source("/no/such/folder")
