"""What a run is: `charnn info RUN` reads it from the run's newest checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charnn.artifacts.checkpoint import LAST_NAME, checkpoint_path, load_checkpoint
from charnn.artifacts.metrics import bits_per_char
from charnn.model.cells import CELLS
from charnn.model.network import CharRNN, count_parameters


def run_info(run: Path) -> dict[str, Any]:
    """Plain data about a run directory (its last.pt) or one checkpoint file."""
    path = checkpoint_path(run, prefer=LAST_NAME)
    checkpoint = load_checkpoint(path, map_location="cpu")
    model = checkpoint.config.model
    parameters = count_parameters(CharRNN(model, len(checkpoint.vocab)))
    versions = checkpoint.versions
    return {
        "checkpoint": str(path),
        "corpus": {
            "name": checkpoint.corpus.get("name"),
            "chars": checkpoint.corpus.get("chars"),
            "sha256": checkpoint.corpus.get("sha256"),
        },
        "tokenizer": checkpoint.vocab.tokenizer,
        "vocab_size": len(checkpoint.vocab),
        "model": {
            "cell": model.cell,
            "num_layers": model.num_layers,
            "hidden_size": model.hidden_size,
            "embedding_dim": model.embedding_dim,
            "dropout": model.dropout,
            "parameters": parameters,
        },
        "steps": checkpoint.step,
        "best_val_loss": checkpoint.best_val_loss,
        "last_val_loss": checkpoint.val_loss,
        "wall_time_s": checkpoint.elapsed_s,
        "skipped_steps": checkpoint.skipped_steps,
        "device": checkpoint.device,
        "versions": {"charnn": versions.get("charnn"), "torch": versions.get("torch")},
    }


def format_info(info: dict[str, Any]) -> str:
    """The same facts, as aligned lines for a terminal."""
    model, corpus = info["model"], info["corpus"]
    shape = f"{CELLS[model['cell']].title} {model['num_layers']}x{model['hidden_size']}"
    chars = f"{corpus['chars']:,} {'bytes' if info['tokenizer'] == 'bytes' else 'chars'}"
    rows = [
        ("checkpoint", info["checkpoint"]),
        ("corpus", f"{corpus['name']} ({chars})" if corpus["chars"] else str(corpus["name"])),
        ("vocabulary", f"{info['vocab_size']:,} symbols ({info['tokenizer']})"),
        (
            "model",
            f"{shape}, embedding {model['embedding_dim']}, dropout {model['dropout']:g}; "
            f"{model['parameters']:,} parameters",
        ),
        ("steps", f"{info['steps']:,}" + _skipped(info["skipped_steps"])),
        ("best val loss", _loss(info["best_val_loss"])),
        ("last val loss", _loss(info["last_val_loss"])),
        ("wall time", f"{info['wall_time_s']:,.1f} s of training"),
        ("trained on", info["device"]),
        ("versions", f"charnn {info['versions']['charnn']}, torch {info['versions']['torch']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _loss(value: float | None) -> str:
    if value is None:
        return "not evaluated"
    return f"{value:.4f} nats/char ({bits_per_char(value):.3f} bits/char)"


def _skipped(count: int) -> str:
    return f" ({count} skipped: not finite)" if count else ""
