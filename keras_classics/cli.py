"""Command-line helpers shared by the scripts in `scripts/`."""

from __future__ import annotations

import argparse
import ast
from typing import Any

from keras_classics.registry import list_models


def parse_model_option(option: str) -> tuple[str, Any]:
    """Turns `"shortcut=A"` into `("shortcut", "A")`, an argparse `type` for builder arguments.

    Values are Python literals where they parse as one (True, 10, (64, 64, 3)), else strings.
    """
    key, sep, value = option.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"model option {option!r} must look like name=value, e.g. shortcut=A"
        )
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def add_model_arguments(parser: argparse.ArgumentParser, default: str = "resnet50") -> None:
    """Adds `--model NAME` (any registered name) and repeatable `--model-option KEY=VALUE`.

    After parsing, `dict(args.model_option)` holds the builder's keyword arguments.
    """
    parser.add_argument(
        "--model",
        default=default,
        type=str.lower,
        choices=list_models(),
        metavar="NAME",
        help=f"a registered model (default {default}); one of: {', '.join(list_models())}",
    )
    parser.add_argument(
        "--model-option",
        action="append",
        default=[],
        type=parse_model_option,
        metavar="KEY=VALUE",
        help="a builder argument, repeatable: --model-option shortcut=A --model-option plain=True",
    )
