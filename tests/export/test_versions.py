"""Version directories: numbering, never overwriting, atomic writes."""

from __future__ import annotations

import keras
import pytest

from keras_classics.export import export_saved_model, list_versions, next_version, serving
from keras_classics.export.describe import resolve_saved_model
from keras_classics.export.versions import TEMP_PREFIX, resolve_version


def tiny_classifier() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_only_integer_directories_are_versions(tmp_path):
    for name in ("3", "12", "007", "tmp", "1a", "-4", f"{TEMP_PREFIX}13-abc"):
        (tmp_path / name).mkdir()
    (tmp_path / "20").write_text("a file, not a version")
    assert list_versions(tmp_path) == [3, 7, 12]
    assert next_version(tmp_path) == 13
    assert list_versions(tmp_path / "missing") == [] and next_version(tmp_path / "missing") == 1


@pytest.mark.parametrize("version", [-1, "3", 2.0, True])
def test_bad_versions_are_rejected(tmp_path, version):
    with pytest.raises(ValueError, match="version must be an integer >= 0 or None"):
        resolve_version(tmp_path, version)


def test_existing_version_counts_leading_zeros(tmp_path):
    (tmp_path / "007").mkdir()  # TF Serving reads this as version 7
    with pytest.raises(FileExistsError, match="version 7 already exists"):
        resolve_version(tmp_path, 7)


def test_versions_increment_and_are_never_overwritten(tmp_path):
    model = tiny_classifier()
    base = tmp_path / "models" / "tiny"  # created on the first export
    (tmp_path / "models" / "tiny" / "notes").mkdir(parents=True)
    first = export_saved_model(model, base, warmup=False)
    second = export_saved_model(model, base)
    assert (first, second) == (base / "1", base / "2")
    assert (second / "saved_model.pb").is_file() and (second / "variables").is_dir()
    assert (second / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert not (first / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert export_saved_model(model, base, version=10, warmup=False) == base / "10"
    written = (base / "10" / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match=r"version 10 already exists.*the next one \(11\)"):
        export_saved_model(model, base, version=10, warmup=False)
    assert (base / "10" / "saved_model.pb").stat().st_mtime_ns == written
    assert export_saved_model(model, base, warmup=False) == base / "11"
    assert sorted(p.name for p in base.iterdir()) == ["1", "10", "11", "2", "notes"]


def test_a_version_appears_only_when_complete(tmp_path, monkeypatch):
    """While the files are written the version is not visible; a crash leaves nothing."""
    seen = []

    def failing_warmup(directory, logs):
        seen.append((directory.name, list_versions(tmp_path), len(logs)))
        assert (directory / "saved_model.pb").is_file()
        raise RuntimeError("disk full")

    monkeypatch.setattr(serving, "write_warmup_file", failing_warmup)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(tiny_classifier(), tmp_path)
    assert len(seen) == 1
    name, versions, logs = seen[0]
    assert name.startswith(f"{TEMP_PREFIX}1-") and not name.isdigit()  # TF Serving ignores it
    assert versions == [] and logs == 5  # bytes x2, image_tensor, images, classify
    assert list(tmp_path.iterdir()) == []  # the temporary directory is gone too
    monkeypatch.undo()
    assert export_saved_model(tiny_classifier(), tmp_path, warmup=False) == tmp_path / "1"


def test_saved_model_resolves_the_asked_version_or_says_which_exist(tmp_path):
    for version in (1, 7, 9):
        (tmp_path / str(version)).mkdir()
        (tmp_path / str(version) / "saved_model.pb").write_bytes(b"")
    assert resolve_saved_model(tmp_path) == tmp_path / "9"
    assert resolve_saved_model(tmp_path, 7) == tmp_path / "7"
    assert resolve_saved_model(tmp_path / "7", 7) == tmp_path / "7"
    with pytest.raises(ValueError, match=r"version 8 not found .* holds versions \[1, 7, 9\]"):
        resolve_saved_model(tmp_path, 8)
    with pytest.raises(ValueError, match=r"version 7 asked, but .*/1' is another one"):
        resolve_saved_model(tmp_path / "1", 7)
