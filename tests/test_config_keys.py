"""`charnn config keys`: every key with its type, default and description."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from charnn.cli import app
from charnn.config import known_keys
from charnn.config_keys import all_keys

runner = CliRunner()


def test_every_key_is_described_once_with_its_default() -> None:
    keys = all_keys()
    assert sorted(info.key for info in keys) == sorted(known_keys())
    assert all(info.description and "undocumented" not in info.description for info in keys)
    lr = next(info for info in keys if info.key == "train.lr")
    assert (lr.type, lr.default) == ("float", "0.002")


def test_the_command_prints_the_keys_and_filters_them() -> None:
    table = runner.invoke(app, ["config", "keys", "model.hid"])
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].split() == ["model.hidden_size", "int", "=", "256"]
    records = [
        json.loads(line)
        for line in runner.invoke(app, ["config", "keys", "--json"]).stdout.split("\n")
        if line
    ]
    assert {record["key"] for record in records} == set(known_keys())
    missing = runner.invoke(app, ["config", "keys", "nope"])
    assert missing.exit_code == 2 and "no config key starts with 'nope'" in missing.stderr
