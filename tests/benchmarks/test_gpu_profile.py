"""benchmarks/gpu_profile.py: XLA's memory plan, largest slots and HLO census of a train step."""

from __future__ import annotations

import pytest

from benchmarks.gpu_profile import hlo_census, largest_slots
from tests.helpers import run_python


def test_census_counts_converts_and_transposes_with_their_bytes():
    import jax
    import jax.numpy as jnp

    def step(x):
        return jnp.transpose(x.astype(jnp.bfloat16)) * 2, x @ x.T

    text = jax.jit(step).lower(jnp.ones((64, 32), jnp.float32)).compile().as_text()
    census = {(c.opcode, c.dtype): c for c in hlo_census(text)}
    assert census["convert", "bf16"].bytes >= 64 * 32 * 2
    assert census["dot", "f32"].count == 1 and census["dot", "f32"].bytes == 64 * 64 * 4
    assert all(c.count > 0 and c.bytes > 0 for c in census.values())


def test_largest_slots_reads_xla_memory_usage_rows_in_order():
    report = (
        "Memory Space: default (color=0)\nTotal bytes: 10 (10B)\n"
        "  cumulative_size;       size;       offset; used_by_n_values; shapes_list\n"
        "  ------------------------------------------------------------\n"
        "  392.00MiB( 56%);  392.00MiB;   0;   2; f32[25088,4096], f32[2,224,224,64]\n"
        "  456.00MiB( 81%);   64.00MiB;   9;   2; 2\u00d7f32[4096,4096]\n"
    )
    assert [row.strip() for row in largest_slots(report, 1)] == [
        "392.00MiB  f32[25088,4096], f32[2,224,224,64]"
    ]
    assert len(largest_slots(report, 5)) == 2


@pytest.mark.slow
def test_tiny_profile_writes_the_plan_census_and_xla_report(tmp_path):
    run_python(
        "-m", "benchmarks.gpu_profile", "--tiny", "--models", "resnet50_v1_5",
        "--slots", "5", "--out", str(tmp_path), env={"KERAS_BACKEND": "jax"},
    )  # fmt: skip
    report = (tmp_path / "resnet50_v1_5.md").read_text()
    assert "| temporaries (activations, gradients, workspaces) |" in report
    assert "| convolution |" in report
    usage = (tmp_path / "resnet50_v1_5-memory-usage.txt").read_text()
    assert usage.startswith("Memory Space") and len(largest_slots(usage, 5)) == 5
