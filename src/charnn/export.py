"""`charnn export`: a trained model as a file that plain PyTorch runs, without charnn.

TorchScript: `model.pt` holds the network with one method,

    logits, h, c = model(ids, h, c)
    # ids (B, T) int64; h, c (num_layers, B, hidden_size) float32, zeros to start;
    # logits (B, T, vocab_size). c is the LSTM's cell state; other cells pass it through.

and `model.json` beside it holds the vocabulary (`chars`: id i is chars[i]; or
`tokenizer: bytes`, where id i is byte i) and the shapes above. The same JSON is also stored
inside the .pt file (`torch.jit.load(path, _extra_files={"charnn.json": ""})`), so the model
file alone is enough.

charnn's SimpleRNN is exported as `nn.RNN` with the same weights (the two compute the same
function), so the file runs the standard PyTorch kernels at any sequence length.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from charnn.atomic import atomic_write
from charnn.checkpoint import Checkpoint
from charnn.errors import CharnnError
from charnn.model import CharRNN

FORMATS = ("torchscript",)


class _Portable(nn.Module):
    """CharRNN with a fixed (ids, h, c) signature and only standard PyTorch modules inside."""

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        config = model.config
        self.is_lstm = config.cell == "lstm"
        self.embedding = model.embedding
        if config.cell == "rnn":  # SimpleRNN -> nn.RNN: same parameter names, same function
            self.rnn: nn.Module = nn.RNN(
                config.embedding_dim, config.hidden_size, config.num_layers, batch_first=True
            )
            self.rnn.load_state_dict(model.rnn.state_dict())
        else:
            self.rnn = model.rnn
        self.head = model.head

    def forward(
        self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embedded = self.embedding(ids)  # (B, T, E)
        if self.is_lstm:
            output, (h, c) = self.rnn(embedded, (h, c))
        else:
            output, h = self.rnn(embedded, h)
        return self.head(output), h, c  # (B, T, V)


def export(checkpoint: Checkpoint, out: Path, *, format: str = "torchscript") -> list[Path]:
    """Write the exported model and its vocabulary; returns the files written."""
    if format not in FORMATS:
        raise CharnnError(
            f"unknown export format {format!r}; use one of {', '.join(FORMATS)} "
            "(ONNX export is not available yet)"
        )
    model = checkpoint.build_model("cpu")
    portable = _Portable(model).eval()
    config = checkpoint.config.model
    description = _description(checkpoint)
    ids = torch.zeros(1, 2, dtype=torch.long)
    state = torch.zeros(config.num_layers, 1, config.hidden_size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch marks TorchScript as deprecated; it still runs
        traced = torch.jit.trace(portable, (ids, state, state.clone()), check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={"charnn.json": json.dumps(description)})
    model_file, vocab_file = out, out.with_suffix(".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(model_file) as file:
        file.write(buffer.getvalue())
    with atomic_write(vocab_file) as file:
        file.write(json.dumps(description, ensure_ascii=False, indent=2).encode("utf-8"))
    return [model_file, vocab_file]


def _description(checkpoint: Checkpoint) -> dict[str, Any]:
    config = checkpoint.config.model
    return {
        "format": "charnn-torchscript",
        "vocab": checkpoint.vocab.to_dict(),
        "tokenizer": checkpoint.vocab.tokenizer,
        "cell": config.cell,
        "num_layers": config.num_layers,
        "hidden_size": config.hidden_size,
        "call": "logits, h, c = model(ids, h, c); ids (B, T) int64; h, c (num_layers, B, "
        "hidden_size) float32 zeros to start; logits (B, T, vocab_size)",
    }
