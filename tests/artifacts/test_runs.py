"""`charnn runs`: one row per run in a folder, with how its latest session stands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charnn.artifacts.run_dir import training_lock
from charnn.artifacts.runs import list_runs
from charnn.cli import app
from charnn.config import config_from_dict
from charnn.errors import TrainingDiverged
from charnn.model.network import CharRNN
from charnn.training.loop import train

from ..conftest import tiny_classify_tree, tiny_tree


def test_runs_lists_each_run_with_its_state(
    corpus_file: Path, bits_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    train(config_from_dict(tiny_tree(corpus_file, runs / "finished", max_steps=20, eval_every=10)))
    train(config_from_dict(tiny_classify_tree(bits_file, runs / "names", max_steps=20)))
    shutil.copytree(runs / "finished", runs / "busy")
    (runs / "not-a-run").mkdir()

    original = CharRNN.forward

    def nan_after_ten(self: CharRNN, ids: torch.Tensor, hidden: object = None) -> object:
        logits, hidden = original(self, ids, hidden)  # type: ignore[arg-type]
        return (
            logits * float("nan") if self.training and nan_after_ten.calls > 10 else logits
        ), hidden

    nan_after_ten.calls = 0  # type: ignore[attr-defined]

    def counting(self: CharRNN, ids: torch.Tensor, hidden: object = None) -> object:
        nan_after_ten.calls += 1  # type: ignore[attr-defined]
        return nan_after_ten(self, ids, hidden)

    monkeypatch.setattr(CharRNN, "forward", counting)
    tree = tiny_tree(corpus_file, runs / "diverged", max_steps=40, eval_every=10)
    tree["train"]["max_consecutive_skips"] = 0  # type: ignore[index]
    with pytest.raises(TrainingDiverged):
        train(config_from_dict(tree))
    monkeypatch.undo()

    with training_lock(runs / "busy"):
        rows = {row["name"]: row for row in list_runs(runs)}
        table = CliRunner().invoke(app, ["runs", str(runs)])
    assert sorted(rows) == ["busy", "diverged", "finished", "names"]
    assert {name: row["state"] for name, row in rows.items()} == {
        "busy": "running",
        "diverged": "diverged",
        "finished": "finished",
        "names": "finished",
    }
    assert rows["finished"]["stopped_by"] == "max_steps" and rows["finished"]["steps"] == 20
    assert rows["names"]["task"] == "classify" and rows["names"]["best_val_accuracy"] is not None
    assert rows["names"]["input"] == "chars"
    assert rows["finished"]["model"] == "LSTM 1x32" and rows["finished"]["best_val_loss"] > 0
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "task", "input", "model"] and len(lines) == 5
    assert "finished (max_steps)" in table.stdout and "running" in table.stdout
    records = [
        json.loads(line)
        for line in CliRunner().invoke(app, ["runs", str(runs), "--json"]).stdout.splitlines()
    ]
    assert [record["name"] for record in records] == ["busy", "diverged", "finished", "names"]
    assert records[0]["state"] == "finished"  # busy, its lock released: its copied status


def test_runs_of_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["runs", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "is not a folder of runs" in result.stderr
