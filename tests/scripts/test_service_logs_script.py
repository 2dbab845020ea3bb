"""The service-log data set is pinned: the same seed writes the same bytes everywhere."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..conftest import run_script

# What seed 0 writes with 100 lines a service, on every Python version (3.10 to 3.13 checked).
PINNED_SHA256 = "66f4073c3e4dbacc58851012ad0070d5a5214a44f7dfb614a3e51183807cd6ff"


def test_seed_zero_writes_the_pinned_bytes(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "logs.tsv"
    run_script("service_logs.py", str(out), "--per-service", "100", env=subprocess_env)
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8 * 100 and all(len(row) == 2 and row[1] for row in rows)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == PINNED_SHA256


def test_another_seed_writes_other_lines(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    for seed in ("0", "1"):
        run_script(
            "service_logs.py", str(tmp_path / f"{seed}.tsv"), "--per-service", "20",
            "--seed", seed, env=subprocess_env,
        )  # fmt: skip
    assert (tmp_path / "0.tsv").read_bytes() != (tmp_path / "1.tsv").read_bytes()
