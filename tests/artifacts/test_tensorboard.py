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


def test_overwrite_and_resume_leave_one_series(corpus_file: Path, tmp_path: Path) -> None:
    """--overwrite used to leave the old run's event file beside the new one (TensorBoard drew
    both), and a resume after a crash wrote the steps past the checkpoint a second time."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from charnn.training.resume import resume_config

    run = tmp_path / "run"
    tree = tiny_tree(corpus_file, run, tensorboard=True, max_steps=20)
    train(config_from_dict(tree))
    train(config_from_dict(tree), overwrite=True)
    assert len(list((run / "tensorboard").glob("events.*"))) == 1
    # A session that got to step 40 and crashed after its checkpoint at step 20: its last
    # step 30 and 40 records stay in the event file, and the resumed run writes them again.
    saved = (run / "last.pt").read_bytes(), (run / "metrics.jsonl").read_bytes()
    config, checkpoint = resume_config(None, [f"out_dir={run}", "train.max_steps=40"])
    train(config, resume_from=checkpoint)
    (run / "last.pt").write_bytes(saved[0])
    (run / "metrics.jsonl").write_bytes(saved[1])
    config, checkpoint = resume_config(None, [f"out_dir={run}", "train.max_steps=40"])
    train(config, resume_from=checkpoint)
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    steps = [scalar.step for scalar in events.Scalars("train/loss")]
    assert steps == [10, 20, 30, 40]
