"""The pipeline benchmark's parts (the figures themselves come from `python -m benchmarks.data`)."""

from __future__ import annotations

import tensorflow as tf

from benchmarks.data import compare_orders, write_imagenet_like_jpegs
from tests.helpers import run_python


def test_generated_jpegs_look_like_imagenet_files_and_both_orders_run(tmp_path):
    root = write_imagenet_like_jpegs(tmp_path, 8)
    files = sorted(root.rglob("*.jpg"))
    assert len(files) == 8 and {f.parent.name for f in files} == {"class_0", "class_1"}
    assert all(50_000 < f.stat().st_size < 300_000 for f in files)  # ImageNet-like sizes
    assert tuple(tf.image.extract_jpeg_shape(files[0].read_bytes())) == (375, 500, 3)
    comparison = compare_orders(root, rounds=1, image_size=32, batch_size=4)
    assert len(comparison.round_ratios) == 1 and comparison.ours > 0 and comparison.peer > 0


def test_the_benchmark_script_prints_the_ratio():
    output = run_python(
        "-m",
        "benchmarks.data",
        "--images",
        "4",
        "--rounds",
        "1",
        "--image-size",
        "32",
        "--batch-size",
        "2",
    )
    assert "per core" in output and "ratio fused / naive:" in output
