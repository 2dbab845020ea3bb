"""`charnn export`: the exported file, run by plain PyTorch without charnn, gives the same
next-character distribution as the original model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charnn.checkpoint import load_checkpoint
from charnn.cli import app
from charnn.config import config_from_dict
from charnn.trainer import train

from .conftest import tiny_tree

# Runs in a fresh interpreter that never imports charnn: only torch and the exported files.
PLAIN_TORCH = """
import json, sys, torch
model = torch.jit.load(sys.argv[1])
vocab = json.load(open(sys.argv[2]))
ids = torch.tensor([[vocab["vocab"]["chars"].index(c) for c in sys.argv[3]]])
state = torch.zeros(vocab["num_layers"], 1, vocab["hidden_size"])
logits, h, c = model(ids, state, state)
assert "charnn" not in sys.modules
print(json.dumps(torch.softmax(logits[0, -1], -1).tolist()))
"""


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_exported_model_matches_the_original(
    cell: str, corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=20, eval_every=20)
    tree["model"].update(cell=cell, num_layers=2)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    model_file, vocab_file = tmp_path / "run" / "model.pt", tmp_path / "run" / "model.json"
    assert result.stdout.split() == [str(model_file), str(vocab_file)]

    prime = "the quick brown fox"
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    original = checkpoint.build_model()
    with torch.inference_mode():
        logits, _ = original(checkpoint.vocab.encode(prime).unsqueeze(0))
    expected = torch.softmax(logits[0, -1], -1)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_TORCH, str(model_file), str(vocab_file), prime],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = torch.tensor(json.loads(done.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    # The vocabulary is inside the model file too.
    extra = {"charnn.json": ""}
    torch.jit.load(str(model_file), _extra_files=extra)
    assert json.loads(extra["charnn.json"])["vocab"] == checkpoint.vocab.to_dict()


def test_an_unknown_export_format_is_one_clear_error(trained_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["export", str(trained_run), "--format", "tflite", "--out", str(tmp_path / "m.pt")]
    )
    assert result.exit_code == 2 and "unknown export format 'tflite'" in result.stderr
