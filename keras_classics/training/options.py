"""`scripts/train.py`'s command line, generated from `RunConfig`'s fields (nothing restated).

Each field becomes `--field-name` (plus its aliases) with its type, choices and help; booleans
get `--x / --no-x`. `--config FILE` starts from a stored run (`config.json` or `summary.json`
of a run directory, or a JSON object of options); flags given on the command line override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keras_classics.cli import ArgumentParser, parse_model_option
from keras_classics.training.config import RunConfig

GROUPS = ("model", "data", "distribution", "optimisation", "speed", "outputs")


def _csv(kind: type) -> typing.Callable[[str], tuple]:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(item) for item in text.split(",") if item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}; got {text!r}"
            ) from None

    return parse


def _value_type(hint: Any) -> Any:
    """`int | None` -> int; `tuple[float, ...]` stays a tuple type."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return hint


def flag_of(item: dataclasses.Field) -> str:
    """The command-line flag of a `RunConfig` field."""
    return item.metadata["flag"] or "--" + item.name.replace("_", "-")


def _add_option(group: argparse._ArgumentGroup, item: dataclasses.Field, hint: Any) -> None:
    meta, kind = item.metadata, _value_type(hint)
    default = (
        item.default_factory()
        if item.default_factory is not dataclasses.MISSING
        else (item.default)
    )
    names = [flag_of(item), *meta["aliases"]]
    shown = "" if default in (None, (), {}) else f" (default {default})"
    arguments: dict[str, Any] = {
        "dest": item.name,
        "default": argparse.SUPPRESS,  # only given flags override --config
        "help": meta["help"] + shown,
    }
    if kind is bool:
        group.add_argument(*names, action=argparse.BooleanOptionalAction, **arguments)
        return
    if typing.get_origin(kind) is dict:
        arguments.update(action="append", type=parse_model_option)
    elif typing.get_origin(kind) is tuple:
        arguments["type"] = _csv(typing.get_args(kind)[0])
    else:
        arguments["type"] = kind
    if meta["choices"]:
        arguments["choices"] = meta["choices"]
        if item.name == "model":
            arguments["type"] = str.lower
            arguments["metavar"] = "NAME"
            arguments["help"] += f"; one of: {', '.join(meta['choices'])}"
    if meta["metavar"]:
        arguments["metavar"] = meta["metavar"]
    group.add_argument(*names, **arguments)


def build_parser(description: str = "") -> ArgumentParser:
    """All options of a training run; `python scripts/train.py --help` lists them."""
    parser = ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        metavar="JSON",
        help="start from a stored run: its config.json or summary.json (flags override it)",
    )
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    hints = typing.get_type_hints(RunConfig)
    for item in dataclasses.fields(RunConfig):
        _add_option(groups[item.metadata["group"]], item, hints[item.name])
    return parser


def read_config_file(path: str) -> dict[str, Any]:
    """The options stored in `path`: a run's config.json, its summary.json, or plain options."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--config {path}: cannot read it as JSON ({error})") from None
    if not isinstance(stored, dict):
        raise ValueError(f"--config {path}: expected a JSON object of options")
    stored = stored.get("config", stored)  # summary.json keeps the configuration there
    return stored.get("options", stored)  # config.json: {"options": ..., "derived": ...}


def parse_config(argv: Sequence[str] | None = None, description: str = "") -> RunConfig:
    """Parses the command line (over `--config`) into a `RunConfig`; a mistake exits with
    status 2 and a one-line message."""
    parser = build_parser(description)
    given = vars(parser.parse_args(argv))
    path = given.pop("config", None)
    if "model_options" in given:
        given["model_options"] = dict(given["model_options"])
    try:
        base = RunConfig.from_json(read_config_file(path)) if path else RunConfig()
        return dataclasses.replace(base, **given)
    except ValueError as error:
        parser.error(str(error))
