"""`charnn export`: a trained model as a file that runs without charnn.

Both formats compute one function,

    logits, h, c = model(ids, h, c)
    # ids (B, T) int64; h, c (num_layers, B, hidden_size) float32, zeros to start;
    # logits (B, T, vocab_size). c is the LSTM's cell state; other cells pass it through.

- TorchScript (`model.pt`, plain PyTorch: `torch.jit.load`);
- ONNX (`model.onnx`, for onnxruntime and other ONNX runtimes; inputs and outputs are named
  ids, h, c and logits, h_out, c_out; batch and sequence length are free). Writing it needs
  the optional `onnx` and `onnxscript` packages (`pip install 'charnn[onnx]'`).

A classifier (`task: classify`) is exported as

    logits = model(ids, lengths)
    # ids (B, T) int64, each row right-padded (with any id, e.g. 0); lengths (B,) int64, each
    # row's real length; logits (B, classes): labels[i] (in the JSON beside the file) is class i.

with ONNX inputs ids, lengths and output logits. A classifier of sequences of numbers takes
raw values in place of ids,

    logits = model(values, lengths)
    # values (B, T, F) float32, rows right-padded; standardised inside the graph, as in training

with ONNX inputs values, lengths.

`model.pt.json` (or `model.onnx.json`: each model file's own) beside the model holds the
vocabulary (`chars`: id i is chars[i]; or
`tokenizer: bytes`, where id i is byte i) and the shapes above. The same JSON is also stored
inside the model file (TorchScript: `torch.jit.load(path, _extra_files={"charnn.json": ""})`;
ONNX: the metadata property `charnn.json`), so the model file alone is enough.

charnn's SimpleRNN is exported as `nn.RNN` with the same weights (the two compute the same
function), so the file runs the standard PyTorch kernels at any sequence length.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from charnn.artifacts.checkpoint import Checkpoint
from charnn.artifacts.export.formats import default_file_name, metadata_path
from charnn.artifacts.export.portable import Portable, portable_classifier
from charnn.artifacts.export.torchscript import torchscript_bytes
from charnn.errors import CharnnError
from charnn.model.cells import CELLS
from charnn.model.classifier import CharClassifier
from charnn.platform.atomic import atomic_write

logger = logging.getLogger(__name__)

ONNX_MISSING = (
    "ONNX export needs the onnx and onnxscript packages, which are not installed; "
    "install them with: pip install 'charnn[onnx]'"
)


def export(checkpoint: Checkpoint, out: Path, *, format: str = "torchscript") -> list[Path]:
    """Write the exported model and its vocabulary; returns the files written."""
    default_file_name(format)  # an unknown format fails here, before any work
    if checkpoint.mix_weight:
        logger.warning(
            "the exported model is the network alone: the n-gram baseline that model.ngram_mix "
            "adds to its labels (weight %g) is not in it, so its labels can differ from "
            "charnn predict's",
            checkpoint.mix_weight,
        )
    if checkpoint.classifies:
        return _write(checkpoint, out, format, *_classifier(checkpoint, format))
    portable = Portable(checkpoint.build_model("cpu")).eval()
    config = checkpoint.config.model
    description = _description(checkpoint, format)
    # Sizes of at least 2 for batch and time: torch.export would fix a size-1 dimension.
    ids = torch.zeros(2, 3, dtype=torch.long)  # (B, T)
    state = torch.zeros(config.num_layers, 2, config.hidden_size)  # (L, B, H)
    example = (ids, state, state.clone())
    if format == "onnx":
        data = _onnx_bytes(portable, example, description)
    else:
        data = torchscript_bytes(portable, example, description)
    return _write(checkpoint, out, format, data, description)


def _classifier(checkpoint: Checkpoint, format: str) -> tuple[bytes, dict[str, Any]]:
    """A classify run's model file bytes and description."""
    portable = portable_classifier(checkpoint.build_classifier("cpu"))
    description = {
        **_description(checkpoint, format),
        "task": "classify",
        "labels": checkpoint.labels,
        "bidirectional": checkpoint.config.model.bidirectional,
        "pooling": checkpoint.config.model.pooling,
        "call": "logits = model(ids, lengths); ids (B, T) int64, rows right-padded; lengths "
        "(B,) int64; logits (B, classes), class i being labels[i]",
    }
    # Sizes of at least 2 for batch and time: torch.export would fix a size-1 dimension.
    example = (torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2]))
    if checkpoint.reads_values:
        features = int(checkpoint.inputs["features"])
        description["inputs"] = dict(checkpoint.inputs)
        description["call"] = (
            f"logits = model(values, lengths); values (B, T, {features}) float32, raw (the "
            "graph standardises them), rows right-padded; lengths (B,) int64; logits "
            "(B, classes), class i being labels[i]"
        )
        example = (torch.zeros(2, 3, features), torch.tensor([3, 2]))
    if format != "onnx":
        return torchscript_bytes(portable, example, description), description
    return _onnx_bytes(portable, example, description), description


def _write(
    checkpoint: Checkpoint, out: Path, format: str, data: bytes, description: dict[str, Any]
) -> list[Path]:
    model_file, vocab_file = out, metadata_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(model_file) as file:
        file.write(data)
    with atomic_write(vocab_file) as file:
        file.write(json.dumps(description, ensure_ascii=False, indent=2).encode("utf-8"))
    return [model_file, vocab_file]


def _onnx_bytes(
    portable: Portable | CharClassifier,
    example: tuple[torch.Tensor, ...],
    description: dict[str, Any],
) -> bytes:
    _require_onnx()
    from charnn.artifacts.export.onnx import (
        CLASSIFIER,
        LANGUAGE_MODEL,
        VALUE_CLASSIFIER,
        TanhRNNForExport,
        onnx_bytes,
    )

    if CELLS[description["cell"]].onnx_translation_in_charnn:
        portable.replace_cores(TanhRNNForExport)
    interface = LANGUAGE_MODEL
    if isinstance(portable, CharClassifier):
        interface = CLASSIFIER if portable.features is None else VALUE_CLASSIFIER
    return onnx_bytes(portable, example, description, interface)


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx needs both; check before it fails deep inside)
        import onnxscript  # noqa: F401
    except ImportError:
        raise CharnnError(ONNX_MISSING) from None


def _description(checkpoint: Checkpoint, format: str) -> dict[str, Any]:
    config, vocab = checkpoint.config.model, checkpoint.vocab
    return {
        "format": f"charnn-{format}",
        "vocab": vocab.to_dict() if vocab is not None else None,
        "tokenizer": vocab.tokenizer if vocab is not None else None,
        "cell": config.cell,
        "num_layers": config.num_layers,
        "hidden_size": config.hidden_size,
        "call": "logits, h, c = model(ids, h, c); ids (B, T) int64; h, c (num_layers, B, "
        "hidden_size) float32 zeros to start; logits (B, T, vocab_size)",
    }
