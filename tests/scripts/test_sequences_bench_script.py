"""The sequences benchmark runs end to end on a tiny budget and writes its own block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ..conftest import run_script


@pytest.mark.slow
def test_sequences_bench_writes_its_tables(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(
        "# Benchmarks\n\nkept\n\n<!-- sequences:start -->\nstale\n<!-- sequences:end -->\n"
    )
    run_script(
        "sequences_bench.py", "--sets", "bits", "--max-epochs", "1", "--rounds", "1",
        "--speed-steps", "2", "--work-dir", str(tmp_path / "work"), "--out", str(out),
        env=subprocess_env, timeout=240,
    )  # fmt: skip
    text = out.read_text()
    assert "kept" in text and "stale" not in text
    for fragment in (
        "| bits (1,600 train / 400 test, 25 x 1) |",
        "sha256 of train.npz + test.npz: bits `",
        "| bits | ",
        "train.max_epochs=1 train.eval_every=50",
    ):
        assert fragment in text, fragment
    # A fifth of each label held out, the same examples on every run.
    test = np.load(tmp_path / "work" / "bits" / "data" / "test.npz")
    assert len(test["y"]) == 400 and test["x"].dtype == np.uint8
