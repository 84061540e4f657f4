"""`python -m benchmarks.models`: our models against their peers, side by side (small sizes)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.helpers import run_python


@pytest.mark.parametrize("pair", ["resnet50", "vgg16", "alexnet_lrn"])
def test_benchmark_compares_side_by_side(pair):
    out = run_python(
        "-m",
        "benchmarks.models",
        "--pair",
        pair,
        "--batch-size",
        "2",
        "--image-size",
        "224" if pair != "resnet50" else "64",
        "--steps",
        "1",
        "--rounds",
        "1",
        "--warmup",
        "1",
    )
    pattern = r"^(inference|training)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+\(([\d.]+)-([\d.]+)\)$"
    rows = re.findall(pattern, out, re.M)
    assert [row[0] for row in rows] == ["inference", "training"], out
    for _, ours, peer, ratio, low, high in rows:  # one round: its ratio is ours / peer
        ours, peer, ratio = float(ours), float(peer), float(ratio)
        # img/s are printed to 0.005, the ratio to 0.005: the bounds of ours / peer
        assert (ours - 0.005) / (peer + 0.005) - 0.005 <= ratio
        assert ratio <= (ours + 0.005) / (peer - 0.005) + 0.005
        assert float(low) == ratio == float(high)


def test_alexnet_lrn_pair_computes_the_same_function(rng):
    from benchmarks.models import build_pair

    _, ours, peer = build_pair("alexnet_lrn", 224)
    peer.set_weights(ours.get_weights())
    x = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(peer(x)), np.asarray(ours(x)), rtol=1e-4, atol=1e-6)


def test_comparison_ratio_is_the_median_of_round_ratios():
    from benchmarks.comparison import Comparison

    result = Comparison("inference", ours_rounds=(10.0, 12.0, 9.0), peer_rounds=(10.0, 10.0, 10.0))
    assert result.round_ratios == (1.0, 1.2, 0.9)
    assert result.ratio == 1.0 and result.ours == 10.0 and result.peer == 10.0
