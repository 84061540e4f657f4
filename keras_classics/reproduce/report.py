"""Tables and figures of a reproduced experiment: runs CSV, Markdown summary, JSON, PNG plot."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from keras_classics.reproduce.experiments import METRICS, Claim, Experiment
from keras_classics.reproduce.runs import RunResult

RUN_COLUMNS = ("label", "model", "options", "dataset", "seed", "test_accuracy")
RUN_COLUMNS += ("final_train_error", "wall_s")


def summarise(results: list[RunResult]) -> dict[str, dict[str, float]]:
    """label -> mean and (sample) std over seeds of each metric, the seed count and wall time."""
    labels = list(dict.fromkeys(r.label for r in results))
    summary = {}
    for label in labels:
        runs = [r for r in results if r.label == label]
        row: dict[str, float] = {"seeds": len(runs), "wall_s": sum(r.wall_s for r in runs)}
        for metric in METRICS:
            values = np.array(
                [getattr(r, "final_" + metric if metric == "train_error" else metric) for r in runs]
            )
            row[metric] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary[label] = row
    return summary


def mean_std(row: dict[str, float], metric: str) -> str:
    return f"{row[metric]:.1f} ± {row[f'{metric}_std']:.1f}"


def markdown_table(
    experiment: Experiment,
    summary: dict[str, dict[str, float]],
    claims: tuple[Claim, ...],
    header: str,
) -> str:
    """The experiment's table (paper vs ours, mean ± std over seeds) and its claims checked."""
    lines = [
        f"### {experiment.title}",
        "",
        header,
        "",
        f"Paper: {experiment.published_metric}.",
        "",
        "| model | paper | test accuracy % | final training error % | seeds | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for config in experiment.configs:
        row = summary[config.label]
        paper = "-" if config.published is None else f"{config.published:g}"
        lines.append(
            f"| {config.label} | {paper} | {mean_std(row, 'test_accuracy')} | "
            f"{mean_std(row, 'train_error')} | {row['seeds']:.0f} | {row['wall_s']:.0f} |"
        )
    if claims:
        lines += ["", "| claim (means over seeds) | holds |", "|---|---|"]
        lines += [f"| {claim} | {'yes' if claim.holds(summary) else 'NO'} |" for claim in claims]
    return "\n".join(lines) + "\n"


def plot_curves(experiment: Experiment, results: list[RunResult], path: Path) -> None:
    """Training error (left) and test error (right) against epochs, in the style of the ResNet
    paper's Fig. 6: a thin line per seed and the bold mean, one colour per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (train_axis, test_axis) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    for index, config in enumerate(experiment.configs):
        runs = [r for r in results if r.label == config.label]
        colour = f"C{index}"
        for axis, x_of, y_of in (
            (train_axis, lambda r: np.arange(1, len(r.train_error) + 1), lambda r: r.train_error),
            (test_axis, lambda r: np.asarray(r.test_epochs), lambda r: r.test_error),
        ):
            for run in runs:
                axis.plot(x_of(run), y_of(run), color=colour, linewidth=0.7, alpha=0.45)
            mean = np.mean([y_of(run) for run in runs], axis=0)
            marker = "o" if len(mean) < 4 else None  # a short curve is a few points
            axis.plot(
                x_of(runs[0]), mean, color=colour, linewidth=2.4, marker=marker, label=config.label
            )
    for axis, title in ((train_axis, "training error %"), (test_axis, "test error %")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
    train_axis.legend()
    figure.suptitle(f"{experiment.title}: thin = one seed, bold = mean", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(
    experiment: Experiment,
    results: list[RunResult],
    claims: tuple[Claim, ...],
    directory: Path,
    header: str,
) -> dict[str, Path]:
    """Writes `<name>.csv` (one row per run), `<name>.md`, `<name>.json` (summary, claims and
    curves) and `<name>.png` under `directory`; returns their paths by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / f"{experiment.name}.{kind}" for kind in ("csv", "md", "json", "png")}
    summary = summarise(results)
    with paths["csv"].open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RUN_COLUMNS)
        for run in results:
            record = asdict(run)
            record["options"] = json.dumps(record["options"], sort_keys=True)
            writer.writerow([record[column] for column in RUN_COLUMNS])
    paths["md"].write_text(markdown_table(experiment, summary, claims, header))
    document = {
        "experiment": experiment.name,
        "summary": summary,
        "claims": [{"claim": str(c), "holds": bool(c.holds(summary))} for c in claims],
        "runs": [asdict(run) for run in results],
    }
    paths["json"].write_text(json.dumps(document, indent=1))
    plot_curves(experiment, results, paths["png"])
    return paths
