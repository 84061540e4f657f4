"""Where a training step's memory and time go: XLA's plan, its largest slots, the HLO's census.

For each model (the Keras candidates of `benchmarks.gpu`, same jitted step, same bf16 policy):
XLA's memory plan of the training step (arguments, outputs, aliased, temporaries), the largest
slots of the buffer assignment with the shapes that share them, a census of the optimised HLO
(how many converts, transposes, copies and convolutions, and the bytes they write, by dtype),
and optionally a device trace for TensorBoard's profiler / Perfetto:

    KERAS_BACKEND=jax python -m benchmarks.gpu_profile --models vgg16,resnet50_v1_5 --out prof/
    KERAS_BACKEND=jax python -m benchmarks.gpu_profile --tiny --models alexnet_owt --out /tmp/p

Writes `MODEL.md` (the summary) and `MODEL-memory-usage.txt` (XLA's own report) per model.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DTYPE_BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2, "u16": 2,
               "f32": 4, "s32": 4, "u32": 4, "f64": 8, "s64": 8, "u64": 8}  # fmt: skip
CENSUS_OPS = ("convert", "transpose", "copy", "convolution", "dot", "select-and-scatter")
# `%name = bf16[256,56,56,64]{3,2,1,0} convolution(...)`: one array-valued HLO instruction.
INSTRUCTION = re.compile(r"=\s+([a-z]+\d*)\[([\d,]*)\][^ ]*\s+([a-z][a-z-]*)\(")


@dataclass(frozen=True)
class OpCensus:
    """How many instructions of one opcode and dtype the optimised HLO holds, and their bytes."""

    opcode: str
    dtype: str
    count: int
    bytes: int


def hlo_census(hlo_text: str) -> list[OpCensus]:
    """Counts CENSUS_OPS instructions (fusion bodies included) by opcode and output dtype."""
    counts: Counter = Counter()
    sizes: Counter = Counter()
    for dtype, dims, opcode in INSTRUCTION.findall(hlo_text):
        if opcode not in CENSUS_OPS or dtype not in DTYPE_BYTES:
            continue
        elements = 1
        for dim in filter(None, dims.split(",")):
            elements *= int(dim)
        counts[opcode, dtype] += 1
        sizes[opcode, dtype] += elements * DTYPE_BYTES[dtype]
    return [OpCensus(op, dt, counts[op, dt], sizes[op, dt]) for op, dt in sorted(counts)]


def largest_slots(memory_usage_report: str, count: int) -> list[str]:
    """The `count` largest rows of XLA's memory-usage report (size; shapes sharing the slot)."""
    rows = []
    for line in memory_usage_report.splitlines():
        fields = [field.strip() for field in line.split(";")]
        if len(fields) == 5 and fields[1].endswith("B") and not fields[1].startswith("size"):
            rows.append(f"{fields[1]:>10}  {fields[4]}")
    return rows[:count]


def _gib(size: int) -> str:
    return f"{size / 2**30:.3f} GiB"


def summary(name: str, plan, parameters: int, census: list[OpCensus], slots: list[str]) -> str:
    """The markdown report of one model."""
    weights = 4 * parameters  # float32 variables under mixed_bfloat16
    lines = [
        f"# {name}: training step",
        "",
        "| part | size |",
        "|---|---|",
        f"| arguments (weights, optimiser slots, batch) | {_gib(plan.argument_size_in_bytes)} |",
        f"| outputs | {_gib(plan.output_size_in_bytes)} |",
        f"| aliased (donated) | {_gib(plan.alias_size_in_bytes)} |",
        f"| temporaries (activations, gradients, workspaces) | {_gib(plan.temp_size_in_bytes)} |",
        f"| float32 weights alone ({parameters:,} parameters) | {_gib(weights)} |",
        "",
        "| opcode | dtype | count | bytes written |",
        "|---|---|---|---|",
        *(f"| {c.opcode} | {c.dtype} | {c.count} | {_gib(c.bytes)} |" for c in census),
        "",
        "Largest slots of the buffer assignment (size, shapes sharing it):",
        "",
        "```",
        *slots,
        "```",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None, model_names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the reports")
    parser.add_argument("--models", default="vgg16,resnet50_v1_5", help=f"from {model_names}")
    parser.add_argument("--tiny", action="store_true", help="small sizes: a CPU check")
    parser.add_argument("--batch", type=int, help="default 256 (--tiny: 2)")
    parser.add_argument("--slots", type=int, default=25, help="largest slots to list")
    parser.add_argument(
        "--trace-steps", type=int, default=0, help="also trace this many steps (jax.profiler)"
    )
    args = parser.parse_args(argv)
    args.models = [name for name in args.models.split(",") if name]
    unknown = sorted(set(args.models) - set(model_names))
    if unknown or not args.models:
        parser.error(f"unknown or non-Keras model(s) {unknown}; choose from {model_names}")
    return args


def main(argv: list[str] | None = None) -> int:
    dump = Path(tempfile.mkdtemp(prefix="xla-dump-"))
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), f"--xla_dump_to={dump}", "--xla_dump_hlo_as_text"]
    )
    import jax  # after XLA_FLAGS: the dump is read when the backend starts
    import keras

    from benchmarks.gpu import GROUPS, MODELS, KerasRunner, Settings

    keras_models = [name for name, candidate in MODELS.items() if candidate.framework == "keras"]
    args = parse_args(argv, keras_models)
    if keras.backend.backend() != "jax":
        print("error: run with KERAS_BACKEND=jax", file=sys.stderr)
        return 2
    keras.config.set_dtype_policy("mixed_bfloat16")
    settings = Settings(
        batch=args.batch or (2 if args.tiny else 256), classes=10 if args.tiny else 1000,
        steps=1, latency_calls=1, rounds=1, torch_compile="none", tiny=args.tiny,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    groups = {c.name: group for group in GROUPS for c in group.candidates}
    try:
        for name in args.models:
            group = groups[name]
            size = group.tiny_image_size if args.tiny else group.image_size
            model = MODELS[name].build(size, settings.classes)
            before = set(dump.glob("*train_step*memory-usage-report.txt"))
            runner = KerasRunner(model, settings, size)
            reports = sorted(set(dump.glob("*train_step*memory-usage-report.txt")) - before)
            usage = reports[-1].read_text() if reports else ""
            (args.out / f"{name}-memory-usage.txt").write_text(usage)
            report = summary(
                name,
                runner.train_step.memory_analysis(),
                model.count_params(),
                hlo_census(runner.train_step.as_text()),
                largest_slots(usage, args.slots),
            )
            (args.out / f"{name}.md").write_text(report)
            print(report)
            if args.trace_steps:
                with jax.profiler.trace(str(args.out / f"{name}-trace")):
                    runner.train(args.trace_steps)
            del runner, model
    finally:
        shutil.rmtree(dump, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
