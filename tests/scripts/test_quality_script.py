"""The quality-per-second script runs end to end on a tiny config and writes its own block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from charnn.artifacts.checkpoint import load_checkpoint

from ..conftest import run_script, tiny_tree


@pytest.mark.slow
def test_quality_script_writes_the_block_named_after_its_config(
    corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    config = tmp_path / "tiny-cpu.yaml"
    config.write_text(yaml.safe_dump(tiny_tree(corpus_file, tmp_path / "unused", max_steps=20)))
    out = tmp_path / "BENCHMARKS.md"
    other = "<!-- quality:shakespeare-cpu:start -->\nkept\n<!-- quality:shakespeare-cpu:end -->"
    out.write_text(f"# Benchmarks\n\n{other}\n\n<!-- quality:tiny-cpu:start -->\nold\n"
                   "<!-- quality:tiny-cpu:end -->\n")  # fmt: skip
    run_script(
        "quality_per_second.py", "--config", str(config), "--out", str(out),
        "--curve-every", "5", "--work-dir", str(tmp_path / "work"),
        "--baseline", "train.lr=0.002", "--baseline", "model.hidden_size=16",
        env=subprocess_env,
    )  # fmt: skip
    text = out.read_text()
    assert other in text and "\nold\n" not in text  # another config's block is left alone
    block = text.split("<!-- quality:tiny-cpu:start -->")[1].split("<!-- quality:tiny-cpu:end")[0]
    assert "cores, torch" in block  # trained on the CPU, and says so
    number = r"[\d,]+\.\d+"
    assert re.search(rf"charnn's default\) \| \*\*{number}\*\* \| {number} \|", block), block
    assert re.search(rf"protocol\) \| {number} \| {number} \|", block), block
    compared = rf"`train.lr=0.002`, `model.hidden_size=16`, state carried \(20 steps\) \| {number}"
    assert re.search(compared, block), block
    baseline = load_checkpoint(tmp_path / "work" / "baseline" / "last.pt").config
    assert (baseline.train.lr, baseline.model.hidden_size) == (0.002, 16)
    assert "Steps trained: 20." in block and "evaluated every 5 steps" in block
    curve = re.findall(r"^\| \d+ \| ([\d,]+) \| [\d.]+ \|$", block, re.MULTILINE)
    assert curve[:4] == ["5", "10", "15", "20"], block
