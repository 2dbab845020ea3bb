"""The benchmark script runs end to end (its --quick smoke mode) and fills every table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from charnn.platform.allocator import tune_malloc

from ..conftest import run_script


@pytest.mark.slow  # the benchmark starts a fresh process for each memory and allocator figure
def test_quick_benchmark_writes_numbers_for_every_cell(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nprose kept\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    run_script("bench.py", "--quick", "--out", str(out), "--threads", "1", env=subprocess_env)
    text = out.read_text()
    assert "prose kept" in text and "old" not in text
    number = r"[\d,]+(\.\d+)?"
    for cell in ("LSTM", "GRU", "tanh RNN"):
        train_row = re.search(rf"^\| {re.escape(cell)}[^|]* \| 1x32 \|(.*)$", text, re.MULTILINE)
        assert train_row, cell
    rows = [line for line in text.splitlines() if line.startswith("| ") and "1x32" in line]
    # 3 cells in the training table, 3 in bf16 against fp32, SimpleRNN vs nn.RNN, 3 in the
    # allocator table (Linux's glibc only), 3 in sampling
    allocator_rows = 3 if "### The allocator" in text else 0
    assert len(rows) == 10 + allocator_rows
    if tune_malloc():  # the tuning applies here, so the bench compares it
        assert allocator_rows == 3
    bf16_section = text.split("### bf16 autocast")[1].split("###")[0]
    training_section = text.split("### Training and evaluation")[1].split("###")[0]
    for row in rows:
        cells = [cell.strip("* x%") for cell in row.strip("|").split("|")[2:]]
        if row in bf16_section:  # ends with the recurrent layers' output dtype
            assert cells[-1].strip() in ("bfloat16", "float32"), row
            cells = cells[:-1]
        if row in training_section:  # charnn / minimal's lowest and highest rounds
            low, high = cells.pop(3).split("-")
            assert float(low) <= float(high), row
        assert all(re.fullmatch(number, cell.strip()) for cell in cells), row
    assert sum(row in bf16_section for row in rows) == 3
    assert sum(row in training_section for row in rows) == 3
    assert re.search(rf"Best: {number} GFLOP/s", text)
    assert "GRU / LSTM training speed at equal size: 1x32: " in text


@pytest.mark.slow
def test_compile_check_script_compares_eager_and_compiled_steps(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    # The `eager` backend traces with TorchDynamo but compiles nothing, so this needs no C++
    # compiler and takes seconds.
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n<!-- compile-cpu:start -->\nold\n<!-- compile-cpu:end -->\n")
    run_script(
        "compile_check.py", "--quick", "--backend", "eager", "--out", str(out),
        env=subprocess_env,
    )  # fmt: skip
    text = out.read_text()
    assert "old" not in text
    training, sampling = text.split("\nSampling: ")
    row = r"^\| (LSTM|GRU|tanh RNN \(SimpleRNN\)) \| 1x32 \|(.*)\|$"
    number = r"[\d,]+(\.\d+)?"
    cells = ["LSTM", "GRU", "tanh RNN (SimpleRNN)"]
    rows = re.findall(row, training, re.MULTILINE)
    assert [cell for cell, _ in rows] == cells, text
    for _, rest in rows:
        graphs, graphs_with_rnns, *speeds, difference = [
            cell.strip().strip("*") for cell in rest.split("|")
        ]
        low, high = speeds.pop(3).split("-")  # compiled / eager's lowest and highest round
        assert float(low) <= float(high), rest
        assert graphs.isdigit() and graphs_with_rnns.isdigit() and len(speeds) == 5, rest
        assert all(re.fullmatch(number, speed) for speed in speeds), rest
        assert float(difference) < 1e-4, rest  # the same function, compiled or not
    rows = re.findall(row, sampling, re.MULTILINE)
    assert [cell for cell, _ in rows] == [cell for cell in cells for _ in (1, 64)], text
    for _, rest in rows:
        streams, *speeds, difference = [cell.strip().strip("*") for cell in rest.split("|")]
        low, high = speeds.pop(3).split("-")
        assert float(low) <= float(high), rest
        assert streams in ("1", "64") and len(speeds) == 4, rest
        assert all(re.fullmatch(number, speed) for speed in speeds), rest
        assert float(difference) < 1e-4, rest  # the lean and the compiled step agree
