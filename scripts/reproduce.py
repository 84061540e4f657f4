"""Reproduce published experiments offline: tables (CSV, Markdown, JSON) and training curves.

python scripts/reproduce.py mnist1d degradation --quick   # the CI-sized versions, ~2 minutes
python scripts/reproduce.py mnist1d mnist1d_shuffled degradation shortcuts  # >= 3 seeds each

Results go to --output-dir (default runs/reproduce); finished runs are reused, so an
interrupted suite resumes. Exit status 1 when a claim does not hold. docs/reproduction.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import sys

from keras_classics.cli import ArgumentParser, run_script


def main(argv: list[str] | None = None) -> int:
    from keras_classics.reproduce.experiments import EXPERIMENTS

    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "experiments",
        nargs="+",
        choices=list(EXPERIMENTS),
        metavar="EXPERIMENT",
        help=f"one or more of: {', '.join(EXPERIMENTS)}",
    )
    parser.add_argument("--quick", action="store_true", help="the CI-sized version: 1 seed, short")
    parser.add_argument("--output-dir", default="runs/reproduce", help="where reports go")
    args = parser.parse_args(argv)

    from keras_classics.reproduce.suite import run_experiment

    failed = []
    for name in dict.fromkeys(args.experiments):
        try:
            paths, claims = run_experiment(name, args.output_dir, quick=args.quick)
        except (ImportError, RuntimeError) as error:  # mnist1d missing or failing
            print(f"error: {error}", file=sys.stderr, flush=True)
            return 2
        print(paths["md"].read_text(), flush=True)
        print(f"report: {', '.join(str(p) for p in paths.values())}", flush=True)
        failed += [f"{name}: {claim}" for claim, holds in claims if not holds]
    for line in failed:
        print(f"claim does not hold: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_script(main))
