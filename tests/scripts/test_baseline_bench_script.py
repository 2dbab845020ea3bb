"""The baseline benchmark runs end to end on a tiny budget and writes its own block."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import run_script


@pytest.mark.slow
def test_baseline_bench_writes_its_table(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(
        "# Benchmarks\n\nkept\n\n<!-- baseline:start -->\nstale\n<!-- baseline:end -->\n"
    )
    run_script(
        "baseline_bench.py", "--sets", "brackets", "--options", "", "--max-epochs", "1",
        "--work-dir", str(tmp_path / "work"), "--out", str(out), env=subprocess_env, timeout=240,
    )  # fmt: skip
    text = out.read_text()
    assert "kept" in text and "stale" not in text
    assert "| brackets (1,600 / 400) |" in text and "sha256 of" in text
    rows = (tmp_path / "work" / "brackets" / "data" / "train.tsv").read_text().splitlines()
    labels = {row.split("\t")[0] for row in rows}
    assert labels == {"balanced", "unbalanced"} and len(rows) == 1600
    # Each unbalanced string holds as many openings as closings: counting cannot tell.
    unbalanced = [row.split("\t")[1] for row in rows if row.startswith("unbalanced")]
    assert all(text.count("(") == text.count(")") for text in unbalanced)
