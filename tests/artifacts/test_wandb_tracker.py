"""train.wandb_project: the metrics logged to Weights & Biases (offline here), and one clear
line without the package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from charnn.artifacts.metrics import MetricsLog
from charnn.config import config_from_dict
from charnn.errors import ConfigError
from charnn.training.loop import train
from charnn.training.resume import resume_config

from ..conftest import tiny_tree


def test_wandb_logs_what_metrics_jsonl_logs_offline(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logged: list[tuple[int, dict[str, Any]]] = []
    real_init = wandb.init

    def init(**kwargs: Any) -> Any:
        run = real_init(**kwargs)
        real_log = run.log

        def log(values: dict[str, Any], step: int) -> None:
            logged.append((step, values))
            real_log(values, step=step)

        monkeypatch.setattr(run, "log", log)
        return run

    monkeypatch.setattr(wandb, "init", init)
    run = tmp_path / "run"
    tree = tiny_tree(corpus_file, run, max_steps=20, eval_every=10)
    tree["train"]["wandb_project"] = "charnn-test"  # type: ignore[index]
    train(config_from_dict(tree))
    records = MetricsLog(run / "metrics.jsonl").read()
    train_losses = [(r["step"], r["loss"]) for r in records if r["event"] == "train"]
    assert [(step, values["train/loss"]) for step, values in logged if "train/loss" in values] == (
        train_losses
    )
    val = [(step, values["eval/val_loss"]) for step, values in logged if "eval/val_loss" in values]
    assert val == [(r["step"], r["val_loss"]) for r in records if r["event"] == "eval"]
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))  # W&B's own offline record
    run_id = (run / "wandb" / "charnn-run-id").read_text().strip()
    config, checkpoint = resume_config(None, [f"out_dir={run}", "train.max_steps=30"])
    train(config, resume_from=checkpoint)
    assert (run / "wandb" / "charnn-run-id").read_text().strip() == run_id  # the same W&B run


def test_wandb_without_the_package_names_the_extra(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail
    tree = tiny_tree(corpus_file, tmp_path / "run")
    tree["train"]["wandb_project"] = "x"  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"pip install 'charnn\[wandb\]'"):
        train(config_from_dict(tree))
    assert not (tmp_path / "run").exists()  # a run that never started leaves nothing behind
