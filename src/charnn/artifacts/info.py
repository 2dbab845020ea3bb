"""What a run is: `charnn info RUN` reads it from the run's newest checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charnn.artifacts.checkpoint import LAST_NAME, checkpoint_path, load_checkpoint
from charnn.artifacts.metrics import bits_per_char
from charnn.model.cells import CELLS

VALUE_BUFFERS = ("embedding.mean", "embedding.scale")


def run_info(run: Path) -> dict[str, Any]:
    """Plain data about a run directory (its last.pt) or one checkpoint file."""
    path = checkpoint_path(run, prefer=LAST_NAME)
    checkpoint = load_checkpoint(path, map_location="cpu")
    model = checkpoint.config.model
    # The networks hold parameters only, but for the standardisation of values (two buffers).
    parameters = sum(
        tensor.numel()
        for name, tensor in checkpoint.model_state.items()
        if name not in VALUE_BUFFERS
    )
    vocab = checkpoint.vocab
    versions = checkpoint.versions
    return {
        "checkpoint": str(path),
        "task": checkpoint.config.task,
        "labels": checkpoint.labels,
        "corpus": {
            "name": checkpoint.corpus.get("name"),
            "chars": checkpoint.corpus.get("chars"),
            "examples": checkpoint.corpus.get("examples"),
            "sha256": checkpoint.corpus.get("sha256"),
        },
        "inputs": dict(checkpoint.inputs) if checkpoint.reads_values else {"kind": "chars"},
        "tokenizer": vocab.tokenizer if vocab is not None else None,
        "vocab_size": len(vocab) if vocab is not None else None,
        "model": {
            "cell": model.cell,
            "num_layers": model.num_layers,
            "hidden_size": model.hidden_size,
            "embedding_dim": model.embedding_dim,
            "dropout": model.dropout,
            "bidirectional": model.bidirectional,
            "pooling": model.pooling if checkpoint.classifies else None,
            "parameters": parameters,
        },
        "steps": checkpoint.step,
        "best_val_loss": checkpoint.best_val_loss,
        "best_val_accuracy": checkpoint.best_score if checkpoint.classifies else None,
        "baseline_val": checkpoint.baseline.get("val"),
        "mix_weight": checkpoint.mix_weight,
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
    if model.get("bidirectional"):
        shape = f"bidirectional {shape}"
    classifies = info.get("task") == "classify"
    if classifies:
        size = f"{corpus['examples']:,} training examples" if corpus.get("examples") else ""
        shape += f", {model['pooling']} pooling"
    else:
        size = f"{corpus['chars']:,} {'bytes' if info['tokenizer'] == 'bytes' else 'chars'}"
    rows = [
        ("checkpoint", info["checkpoint"]),
        ("task", "classify" if classifies else "lm (next character)"),
        ("corpus", f"{corpus['name']} ({size})" if size else str(corpus["name"])),
        input_row(info),
        (
            "model",
            f"{shape}, embedding {model['embedding_dim']}, dropout {model['dropout']:g}; "
            f"{model['parameters']:,} parameters",
        ),
        ("steps", f"{info['steps']:,}" + _skipped(info["skipped_steps"])),
    ]
    if classifies:
        labels = info["labels"]
        shown = ", ".join(labels[:10]) + (
            f", ... ({len(labels)} in all)" if len(labels) > 10 else ""
        )
        accuracy = info["best_val_accuracy"]
        best = "not evaluated" if accuracy is None else f"{accuracy:.4f}"
        if info.get("mix_weight") is not None:
            best += " (the network and the n-gram baseline combined: model.ngram_mix)"
        rows += [("labels", shown), ("best val accuracy", best)]
        baseline = info.get("baseline_val")
        if baseline:
            rows.append(
                (
                    "n-gram baseline",
                    f"val accuracy {baseline['accuracy']:.4f}, macro-F1 "
                    f"{baseline['macro_f1']:.4f} (character 1-3-gram naive Bayes)",
                )
            )
        rows += [
            ("best val loss", _loss(info["best_val_loss"], per="")),
            ("last val loss", _loss(info["last_val_loss"], per="")),
        ]
    else:
        rows += [
            ("best val loss", _loss(info["best_val_loss"])),
            ("last val loss", _loss(info["last_val_loss"])),
        ]
    rows += [
        ("wall time", f"{info['wall_time_s']:,.1f} s of training"),
        ("trained on", info["device"]),
        ("versions", f"charnn {info['versions']['charnn']}, torch {info['versions']['torch']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def input_row(info: dict[str, Any]) -> tuple[str, str]:
    """What the model reads: its vocabulary, or the shape of its sequences of numbers."""
    inputs = info.get("inputs") or {"kind": "chars"}
    if inputs["kind"] != "values":
        return "vocabulary", f"{info['vocab_size']:,} symbols ({info['tokenizer']})"
    scaled = "standardised" if inputs.get("standardize") else "as they are"
    return "input", (
        f"sequences of numbers: {inputs['steps']} steps x {inputs['features']} features "
        f"({inputs['dtype']}), {scaled}"
    )


def _loss(value: float | None, *, per: str = "/char") -> str:
    if value is None:
        return "not evaluated"
    if not per:
        return f"{value:.4f} nats"
    return f"{value:.4f} nats/char ({bits_per_char(value):.3f} bits/char)"


def _skipped(count: int) -> str:
    return f" ({count} skipped: not finite)" if count else ""
