"""Command-line helpers shared by the scripts in `scripts/`.

`run_script(main)` is every script's entry point: a user's mistake (a bad argument, a missing
or unreadable file, a value out of range, an unreachable server) ends in one line
`error: ...` on stderr and exit status 2, never a traceback; `--debug` (or `KC_DEBUG=1`) shows
the traceback instead. Every script's parser is `ArgumentParser` (below), whose usage errors are
the same one line and status 2 (`--help` is unchanged).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from keras_classics.registry import list_models

DEBUG_VARIABLE = "KC_DEBUG"
USER_ERROR_STATUS = 2


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line `error: ...` and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR_STATUS, f"error: {message}\n")


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions a user's input causes (TensorFlow's only when it is already loaded)."""
    kinds: list[type[BaseException]] = [ValueError, TypeError, OSError, LookupError]
    if "tensorflow" in sys.modules:
        kinds.append(sys.modules["tensorflow"].errors.OpError)
    return tuple(kinds)


# TensorFlow's runtime errors open with lines that say nothing about the cause, and may put
# the op's name in front of the cause ("{{function_node __wrapped__CollectiveReduceV2...}} ").
_NOISE = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")
_OP_NAME = re.compile(r"^\{\{[^}]*\}\}\s*")


def useful_line(text: str) -> str:
    """The first line of a message that names the cause (skipping TensorFlow's preamble), with
    the line after it when it ends in a colon (a list: "unhealthy tasks:", "/job:worker/...")."""
    lines = [_OP_NAME.sub("", line.strip()) for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if line and not line.startswith(_NOISE)] or lines or [""]
    line = useful[0]
    if line.endswith(":") and len(useful) > 1:
        line = f"{line} {useful[1]}"
    return line[:500]


def one_line(error: BaseException) -> str:
    """An error's message in one line (its cause for TensorFlow's), else its type."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return useful_line(text) or type(error).__name__


def run_script(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Runs `main(argv)`; a user error becomes one `error:` line and status 2 (see above)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        return main(argv) or 0
    except _user_error_types() as error:
        if debug:
            raise
        print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
        return USER_ERROR_STATUS


def positive_int(text: str) -> int:
    """An argparse `type`: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
