"""`charnn info` and `charnn config show`: what a run is, and what a config resolves to."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.artifacts.info import run_info
from charnn.cli import app
from charnn.config import config_from_dict, load_config
from charnn.model.network import count_parameters

runner = CliRunner()


def test_info_reports_the_run(trained_run: Path) -> None:
    facts = run_info(trained_run)
    assert facts["checkpoint"].endswith("last.pt") and facts["steps"] == 400
    assert facts["model"] == {
        "cell": "lstm",
        "num_layers": 1,
        "hidden_size": 64,
        "embedding_dim": 16,
        "dropout": 0.0,
        "bidirectional": False,
        "pooling": None,
        "parameters": facts["model"]["parameters"],
    }
    assert facts["model"]["parameters"] > 0 and facts["vocab_size"] > 20
    built = load_checkpoint(trained_run / "last.pt").build_model()
    assert facts["model"]["parameters"] == count_parameters(built)
    assert facts["tokenizer"] == "chars" and facts["device"] == "cpu"
    assert facts["best_val_loss"] <= facts["last_val_loss"]
    assert facts["corpus"]["chars"] > 0 and len(facts["corpus"]["sha256"]) == 64
    assert facts["versions"]["charnn"] and facts["versions"]["torch"]
    as_json = runner.invoke(app, ["info", str(trained_run), "--json"])
    assert json.loads(as_json.stdout) == facts
    table = runner.invoke(app, ["info", str(trained_run)])
    assert "LSTM 1x64" in table.stdout and "best val loss" in table.stdout


def test_config_show_prints_what_train_would_use(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  hidden_size: 48\ntrain:\n  lr: 3e-3\n")
    args = ["config", "show", str(config), "--set", "train.seq_len=32", "--device", "cpu"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    resolved = config_from_dict(yaml.safe_load(shown.stdout))
    assert resolved == load_config(config, ["train.seq_len=32", "device=cpu"])
    marked = runner.invoke(app, [*args, "--sources"]).stdout
    assert "hidden_size: 48  # file" in marked and "seq_len: 32  # --set" in marked
    assert "device: cpu  # flag" in marked and "num_layers: 2  # default" in marked


def test_config_show_refuses_what_train_refuses(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["config", "show", "--set", "train.lrr=1"])
    assert shown.exit_code == 2 and "train.lr" in shown.stderr
