"""Running an experiment: every configuration with every seed, then its table and plot."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from keras_classics.reproduce.experiments import Claim, get_experiment
from keras_classics.reproduce.report import summarise, write_report
from keras_classics.reproduce.runs import RunResult, cached_run


def run_experiment(
    name: str,
    output_dir: str | os.PathLike,
    *,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Path], list[tuple[Claim, bool]]]:
    """Trains experiment `name` (its `--quick` version with `quick`) and writes its report.

    Runs already recorded under `output_dir/runs` are reused. Returns the report's paths and
    each claim with whether it holds.
    """
    experiment = get_experiment(name)
    schedule = experiment.quick_schedule if quick else experiment.schedule
    seeds = experiment.quick_seeds if quick else experiment.seeds
    claims = experiment.quick_claims if quick else experiment.claims
    output = Path(output_dir)
    start = time.perf_counter()
    results: list[RunResult] = []
    for config in experiment.configs:
        for seed in seeds:
            result, cached = cached_run(config, schedule, experiment.dataset, seed, output / "runs")
            results.append(result)
            log(
                f"{name} {config.label} seed {seed}: test accuracy {result.test_accuracy:.1f}%, "
                f"training error {result.final_train_error:.1f}%, {result.wall_s:.0f} s"
                + (" (recorded earlier)" if cached else "")
            )
    trained = sum(r.wall_s for r in results)
    header = (
        f"{'Quick version' if quick else 'Full version'}: {schedule.describe()}; seeds "
        f"{', '.join(map(str, seeds))}; {len(results)} runs, {trained:.0f} s of training "
        f"(this invocation: {time.perf_counter() - start:.0f} s) on {os.cpu_count()} CPU cores."
    )
    paths = write_report(experiment, results, claims, output, header)
    summary = summarise(results)
    return paths, [(claim, claim.holds(summary)) for claim in claims]
