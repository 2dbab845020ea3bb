"""train.tensorboard: the metrics, mirrored as TensorBoard scalars; metrics.jsonl unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from charnn.artifacts.metrics import MetricsLog
from charnn.config import config_from_dict
from charnn.errors import ConfigError
from charnn.training.loop import train

from ..conftest import tiny_tree


def test_tensorboard_scalars_mirror_the_metrics_file(corpus_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(config_from_dict(tiny_tree(corpus_file, run, tensorboard=True)))
    records = MetricsLog(run / "metrics.jsonl").read()
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    train_loss = [(s.step, s.value) for s in events.Scalars("train/loss")]
    expected = [(r["step"], r["loss"]) for r in records if r["event"] == "train"]
    assert [step for step, _ in train_loss] == [step for step, _ in expected] == [10, 20, 30, 40]
    assert [value for _, value in train_loss] == pytest.approx([value for _, value in expected])
    val = [(s.step, s.value) for s in events.Scalars("val/loss")]
    assert val == [
        (r["step"], pytest.approx(r["val_loss"])) for r in records if r["event"] == "eval"
    ]
    assert {"train/lr", "train/grad_norm", "train/chars_per_s"} <= set(events.Tags()["scalars"])


def test_tensorboard_without_the_package_names_the_extra(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    config = config_from_dict(tiny_tree(corpus_file, tmp_path / "run", tensorboard=True))
    with pytest.raises(ConfigError, match=r"pip install 'charnn\[tensorboard\]'"):
        train(config)
