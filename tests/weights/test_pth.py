"""The torch-free `.pth` reader: torch's own tensors, both file formats, nothing ever runs."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from keras_classics.weights import read_state_dict
from keras_classics.weights.pth import read_pth


def _tensors():
    import torch

    generator = torch.Generator().manual_seed(0)
    return OrderedDict(
        conv=torch.randn(4, 3, 3, 3, generator=generator),
        transposed=torch.arange(12.0).reshape(3, 4).t(),  # a strided view
        offset=torch.arange(10.0)[3:7],  # a view at a storage offset
        half=torch.randn(5, generator=generator).half(),
        bfloat=torch.randn(5, generator=generator).bfloat16(),
        counter=torch.tensor(7, dtype=torch.int64),  # num_batches_tracked: a 0-d long
        mask=torch.tensor([True, False]),
        weight=torch.nn.Parameter(torch.ones(2)),
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_builtin_and_torch_readers_agree_on_the_same_file(tmp_path, legacy):
    torch = pytest.importorskip("torch")
    path = tmp_path / "state.pth"
    torch.save(_tensors(), path, _use_new_zipfile_serialization=not legacy)
    ours = read_state_dict(path)
    theirs = read_state_dict(path, pth_reader="torch")
    assert list(ours) == list(theirs) == list(_tensors())
    for key, value in theirs.items():
        assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
    np.testing.assert_array_equal(ours["transposed"], np.arange(12.0).reshape(3, 4).T)
    np.testing.assert_array_equal(ours["offset"], [3, 4, 5, 6])


class _RunsCode:
    """Unpickling this runs `command` in a shell: what a booby-trapped checkpoint holds."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _booby_trapped(path, marker) -> None:
    """A torch.save-shaped zip whose state dict holds a call of os.system."""
    state = OrderedDict(weight=_RunsCode(f"touch {marker}"))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")


def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    path, marker = tmp_path / "resnet18-trap.pth", tmp_path / "pwned"
    _booby_trapped(path, marker)
    with pytest.raises(ValueError, match=r"refused: its pickle asks for posix.system.*Nothing"):
        read_state_dict(path)
    assert not marker.exists()
    # The file is live: a plain unpickler (torch.load without weights_only) would run it.
    with zipfile.ZipFile(path) as archive:
        pickle.loads(archive.read("archive/data.pkl"))
    assert marker.exists()


def test_a_legacy_file_that_would_run_code_is_refused(tmp_path):
    path, marker = tmp_path / "old.pth", tmp_path / "pwned"
    buffer = io.BytesIO()
    for value in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(value, buffer, protocol=2)
    pickle.dump(_RunsCode(f"touch {marker}"), buffer, protocol=2)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="refused"):
        read_pth(path)
    assert not marker.exists()


def test_files_that_are_not_checkpoints_are_named(tmp_path):
    (tmp_path / "notes.pth").write_text("hello")
    with pytest.raises(ValueError, match=r"notes.pth' cannot be read as a torch.save file"):
        read_pth(tmp_path / "notes.pth")
    with zipfile.ZipFile(tmp_path / "other.pth", "w") as archive:
        archive.writestr("readme.txt", "no pickle")
    with pytest.raises(ValueError, match=r"not a torch.save checkpoint"):
        read_pth(tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"pth_reader='pickle'.*\('builtin', 'torch'\)"):
        read_state_dict(tmp_path / "other.pth", pth_reader="pickle")
