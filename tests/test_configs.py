"""Every shipped config loads, validates and builds its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from charnn.config import load_config
from charnn.data.sources import SOURCES
from charnn.model.network import CharRNN, count_parameters

from .conftest import REPO_ROOT

CONFIG_FILES = sorted((REPO_ROOT / "configs").glob("*.yaml"))


def test_configs_are_shipped() -> None:
    names = {path.stem for path in CONFIG_FILES}
    assert {
        "quick",
        "shakespeare-lstm",
        "shakespeare-gru",
        "shakespeare-rnn",
        "shakespeare-cpu",
        "shakespeare-gpu",
    } <= names


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda path: path.name)
def test_config_loads_and_builds(path: Path) -> None:
    config = load_config(path)
    assert config.data.path is None and config.data.source in SOURCES
    assert config.out_dir == f"runs/{path.stem}"  # each config has its own run directory
    model = CharRNN(config.model, vocab_size=65)
    assert count_parameters(model) > 0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shakespeare_configs_train_for_80_seconds(cell: str) -> None:
    config = load_config(REPO_ROOT / "configs" / f"shakespeare-{cell}.yaml")
    assert config.model.cell == cell
    assert config.data.source == "tinyshakespeare"
    assert config.train.max_time == 80


def test_the_quick_config_needs_no_network() -> None:
    config = load_config(REPO_ROOT / "configs" / "quick.yaml")
    assert config.data.source == "pydoc-topics"


def test_the_cpu_and_gpu_configs_spend_their_time_budget() -> None:
    cpu = load_config(REPO_ROOT / "configs" / "shakespeare-cpu.yaml")
    assert (cpu.device, cpu.train.max_time, cpu.train.schedule) == ("cpu", 80, "cosine")
    gpu = load_config(REPO_ROOT / "configs" / "shakespeare-gpu.yaml")
    assert (gpu.device, gpu.train.max_time, gpu.train.precision) == ("cuda", 300, "bf16")
