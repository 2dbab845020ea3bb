"""The large-corpus benchmark runs end to end on a small corpus and fills its table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..conftest import run_script


@pytest.mark.slow
def test_big_corpus_script_measures_both_runs(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nprose kept\n")
    run_script(
        "big_corpus.py", "--size-mb", "1", "--out", str(out), env=subprocess_env, timeout=300
    )
    text = out.read_text()
    assert "prose kept" in text and "<!-- big-corpus:start -->" in text
    first = re.search(r"^\| first \(empty cache\) \| ([\d.]+) s \| ([\d,]+) MB/s \|", text, re.M)
    second = re.search(r"^\| second \(cache filled\) \| ([\d.]+) s \| \(cached\) \|", text, re.M)
    assert first and second, text
    assert float(second[1]) < float(first[1])  # the second run found the token file
    assert re.search(r"\*\*[\d,]+ MiB\*\* \|$", text, re.M)
