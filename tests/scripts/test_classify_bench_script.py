"""The classification benchmark runs end to end on a tiny budget and writes its own block."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import run_script


@pytest.mark.slow
def test_classify_bench_writes_its_tables(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(
        "# Benchmarks\n\nkept\n\n<!-- classify:start -->\nstale\n<!-- classify:end -->\n"
    )
    run_script(
        "classify_bench.py", "--seconds", "2", "--per-class", "100", "--speed-steps", "2",
        "--rounds", "2", "--predict-lines", "200", "--work-dir", str(tmp_path / "work"),
        "--out", str(out), env=subprocess_env, timeout=240,
    )  # fmt: skip
    text = out.read_text()
    assert "kept" in text and "stale" not in text
    for fragment in (
        "| Naive Bayes, character 1-3-grams |",
        "| charnn classifier |",
        "| true \\ predicted | auth |",
        "sha256 of train.tsv `",
        "charnn / hand-written: **",
        "Padding overhead",
        "on 200 lines:",
    ):
        assert fragment in text, fragment
    train_lines = (tmp_path / "work" / "data" / "train.tsv").read_text().splitlines()
    assert len(train_lines) == 8 * 90 and len({line.split("\t")[0] for line in train_lines}) == 8
