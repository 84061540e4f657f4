"""The command line is generated from `RunConfig`: each option once in each, and back."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from keras_classics.training.config import RunConfig
from keras_classics.training.options import build_parser, flag_of, parse_config


def test_every_option_is_one_field_and_one_flag_in_the_help(capsys):
    parser = build_parser()
    fields = [item.name for item in dataclasses.fields(RunConfig)]
    destinations = [a.dest for a in parser._actions if a.dest not in ("help", "config")]
    assert sorted(destinations) == sorted(fields)  # one flag per field, no other
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for item in dataclasses.fields(RunConfig):
        flag = flag_of(item)
        # Listed once as an option of its group (the usage line names it once more).
        listed = re.findall(rf"^  {re.escape(flag)}[ ,=\n]", help_text, re.M)
        assert len(listed) == 1, (flag, listed)
        assert item.metadata["help"].split()[0] in help_text


def test_torchvision_names_are_aliases():
    config = parse_config(
        ["--lr", "0.5", "--wd", "1e-5", "--image-size", "64", "--model-ema-decay", "0.99",
         "--warmup-epochs", "2"]
    )  # fmt: skip
    assert (config.learning_rate, config.weight_decay, config.train_crop_size) == (0.5, 1e-5, 64)
    assert (config.model_ema, config.lr_warmup_epochs) == (0.99, 2.0)


def test_a_config_file_is_replayed_and_flags_override_it(tmp_path, capsys):
    stored = RunConfig(model="resnet32", nesterov=True, lr_boundaries=(2.0, 3.0), seed=5)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"options": stored.to_json(), "derived": {}}))
    assert parse_config(["--config", str(path)]) == stored
    changed = parse_config(["--config", str(path), "--no-nesterov", "--seed", "6"])
    assert changed == dataclasses.replace(stored, nesterov=False, seed=6)
    path.write_text(json.dumps({"options": {"modle": "resnet32"}}))
    with pytest.raises(SystemExit):
        parse_config(["--config", str(path)])
    assert "unknown option(s) ['modle']; valid: [" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(["--config", str(tmp_path / "missing.json")])
    assert "cannot read it as JSON" in capsys.readouterr().err
