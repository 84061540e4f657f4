"""benchmarks/gpu.py: the side-by-side speed table (JAX backend vs PyTorch), on CPU with --tiny."""

from __future__ import annotations

import csv
import importlib.util
import statistics
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO, run_python

SCRIPT = REPO / "benchmarks" / "gpu.py"
PAIR = ("alexnet_owt", "tv_alexnet")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> dict[str, list[dict]]:
    """One tiny run of a model pair under KERAS_BACKEND=jax: the rows of gpu.csv by table."""
    out = tmp_path_factory.mktemp("gpu")
    run_python(
        "-m",
        "benchmarks.gpu",
        "--tiny",
        "--rounds",
        "3",
        "--models",
        ",".join(PAIR),
        "--out",
        str(out),
        env={"KERAS_BACKEND": "jax"},
    )
    with open(out / "gpu.csv") as file:
        rows = list(csv.DictReader(file))
    assert (out / "gpu.md").read_text().count("| alexnet |") == len(PAIR) + 3
    return {table: [r for r in rows if r["table"] == table] for table in ("candidates", "ratios")}


def test_tiny_run_measures_each_candidate(tiny_run):
    candidates = {row["candidate"]: row for row in tiny_run["candidates"]}
    assert set(candidates) == set(PAIR)
    assert candidates["alexnet_owt"]["source"] == "keras_classics"
    assert candidates["tv_alexnet"]["source"] == "torchvision"
    for row in candidates.values():
        for key in ("train_img_s", "infer_img_s", "latency_ms", "compile_s"):
            assert float(row[key]) > 0, (row["candidate"], key)
    # XLA's memory plan of the train step holds at least the weights, their gradients and the
    # momentum: 3 x 4 bytes x 57.0 M parameters (owt with 10 classes) = 0.64 GiB.
    assert 0.64 < float(candidates["alexnet_owt"]["peak_gib"]) < 4
    assert candidates["tv_alexnet"]["peak_gib"] == ""  # no CUDA allocator on CPU


def test_tiny_run_reports_ratios_with_their_spread(tiny_run):
    ratios = tiny_run["ratios"]
    assert [row["metric"] for row in ratios] == ["train", "infer", "latency"]
    for row in ratios:
        assert (row["first"], row["second"]) == PAIR
        low, median, high = (float(row[k]) for k in ("ratio_min", "ratio_median", "ratio_max"))
        assert 0 < low <= median <= high


def test_speed_ratio_is_median_of_per_round_ratios(monkeypatch):
    gpu = _import_gpu(monkeypatch)
    group = next(group for group in gpu.GROUPS if group.name == "alexnet")
    by_name = {candidate.name: candidate for candidate in group.candidates}
    first = gpu.Measured(by_name["alexnet_owt"], 1.0, None)
    second = gpu.Measured(by_name["tv_alexnet"], 1.0, None)
    first.rounds = {"train": [10, 30, 20], "infer": [1, 1, 1], "latency": [0.5, 0.5, 0.5]}
    second.rounds = {"train": [10, 10, 10], "infer": [2, 2, 2], "latency": [1.0, 2.0, 1.0]}
    rows = {row["metric"]: row for row in gpu.pair_ratios(group, [first, second])}
    assert (rows["train"]["ratio_median"], rows["train"]["ratio_max"]) == (2, 3)
    assert rows["infer"]["ratio_median"] == 0.5
    # latency is a time: the first is faster when its time is shorter
    assert (rows["latency"]["ratio_min"], rows["latency"]["ratio_max"]) == (2, 4)


def test_every_candidate_builds_at_its_tiny_size(monkeypatch):
    import torch

    gpu = _import_gpu(monkeypatch)
    for group in gpu.GROUPS:
        size = group.tiny_image_size
        for candidate in group.candidates:
            model = candidate.build(size, 10)
            if candidate.framework == "torch":
                with torch.no_grad():
                    shape = tuple(model.eval()(torch.zeros(1, 3, size, size)).shape)
            else:
                shape = tuple(model(np.zeros((1, size, size, 3), "float32")).shape)
            assert shape == (1, 10), candidate.name
    assert statistics.median([len(group.pairs) for group in gpu.GROUPS]) >= 1


def test_lrn_ablation_removes_only_the_lrn_layers(monkeypatch):
    gpu = _import_gpu(monkeypatch)
    from keras_classics.layers import LocalResponseNormalization

    full = gpu.MODELS["alexnet_one_tower"].build(224, 10)
    ablated = gpu.MODELS["alexnet_one_tower_no_lrn"].build(224, 10)
    assert [x.name for x in full.layers[1:]] == [x.name for x in ablated.layers[1:]]
    kinds = {type(layer) for layer in ablated.layers}
    assert LocalResponseNormalization in {type(layer) for layer in full.layers}
    assert LocalResponseNormalization not in kinds and kinds - {type(x) for x in full.layers}
    assert full.count_params() == ablated.count_params()


def test_bad_model_name_is_one_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--models", "resnet5O", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"KERAS_BACKEND": "jax", "PATH": ""},
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 2
    assert "unknown model(s) ['resnet5O']; choose from ['resnet50_v1_5'" in result.stderr
    assert "Traceback" not in result.stderr


def _import_gpu(monkeypatch):
    """benchmarks/gpu.py as a module, leaving this process's Keras backend as it is."""
    import keras

    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    spec = importlib.util.spec_from_file_location("benchmarks_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
