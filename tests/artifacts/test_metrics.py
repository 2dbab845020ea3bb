from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from charnn.artifacts.metrics import METRIC_KEYS, MetricsLog, bits_per_char, perplexity


def test_units() -> None:
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    assert perplexity(math.log(65)) == pytest.approx(65.0)
    assert perplexity(1000.0) == math.inf


def test_every_record_has_every_key_and_non_finite_values_become_null(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write(
        "train", step=1, loss=2.5, lr=0.1, grad_norm=float("inf"), chars_per_s=10.0, elapsed_s=0.5
    )
    log.write("eval", step=1, val_loss=float("nan"), elapsed_s=0.6)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # strict JSON: no NaN or Infinity tokens
    assert records == log.read()
    assert all(set(record) == {"event", *METRIC_KEYS} for record in records)
    assert records[0]["grad_norm"] is None and records[0]["loss"] == 2.5
    assert (
        records[1]["event"] == "eval"
        and records[1]["val_loss"] is None
        and records[1]["loss"] is None
    )


def test_unknown_metric_names_are_a_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        MetricsLog(tmp_path / "m.jsonl").write("train", accuracy=1.0)


def test_reading_a_missing_file(tmp_path: Path) -> None:
    assert MetricsLog(tmp_path / "none.jsonl").read() == []


def test_keep_until_drops_later_records_and_torn_lines(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (10, 20, 30):
        log.write("train", step=step, loss=1.0)
    log.write("eval", step=20, val_loss=1.5)
    with log.path.open("a") as file:
        file.write('{"event": "train", "st')  # killed mid-line
    assert [r["step"] for r in log.read()] == [10, 20, 30, 20]
    log.keep_until(20)
    assert [(r["event"], r["step"]) for r in log.read()] == [
        ("train", 10),
        ("train", 20),
        ("eval", 20),
    ]
    log.write("train", step=30, loss=0.5, skipped_steps=0)
    assert log.read()[-1]["loss"] == 0.5
