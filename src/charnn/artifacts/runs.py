"""`charnn runs DIR`: one row per run under a folder, read from its files without loading any
model: what it is, how far it got, how good it is, and whether it is running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charnn.artifacts.checkpoint import LAST_NAME, load_checkpoint
from charnn.artifacts.run_dir import BEST_NAME, run_state
from charnn.errors import CharnnError, CheckpointError
from charnn.model.cells import CELLS


def list_runs(folder: Path) -> list[dict[str, Any]]:
    """Every run directory directly under `folder` (or `folder` itself, when it is one)."""
    if not folder.is_dir():
        raise CharnnError(
            f"{folder} is not a folder of runs; give the folder your runs are in (runs by default)"
        )
    candidates = [folder] if _is_run(folder) else sorted(p for p in folder.iterdir() if p.is_dir())
    return [_describe(run) for run in candidates if _is_run(run)]


def _is_run(path: Path) -> bool:
    return (path / LAST_NAME).is_file() or (path / BEST_NAME).is_file()


def _describe(run: Path) -> dict[str, Any]:
    state, status = run_state(run)
    row: dict[str, Any] = {"run": str(run), "name": run.name, "state": state}
    file = run / LAST_NAME if (run / LAST_NAME).is_file() else run / BEST_NAME
    try:
        checkpoint = load_checkpoint(file)
    except CheckpointError as error:
        return {**row, "error": str(error)}
    config, model = checkpoint.config, checkpoint.config.model
    limit = config.train.max_steps
    if state == "stopped" and not status and limit is not None and checkpoint.step >= limit:
        state = row["state"] = "finished"  # a run from before status files, at its step limit
    direction = "bidirectional " if model.bidirectional else ""
    inputs = checkpoint.inputs
    row.update(
        task=config.task,
        input=(
            f"values {inputs['steps']}x{inputs['features']}"
            if checkpoint.reads_values
            else "bytes"
            if checkpoint.vocab is not None and checkpoint.vocab.tokenizer == "bytes"
            else "chars"
        ),
        model=f"{direction}{CELLS[model.cell].title} {model.num_layers}x{model.hidden_size}",
        steps=checkpoint.step,
        best_val_loss=checkpoint.best_val_loss,
        best_val_accuracy=checkpoint.best_score if checkpoint.classifies else None,
        baseline_val_accuracy=(checkpoint.baseline.get("val") or {}).get("accuracy"),
        wall_time_s=checkpoint.elapsed_s,
        stopped_by=status.get("stopped_by"),
    )
    return row


def format_runs(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned table."""
    header = (
        "run", "task", "input", "model", "steps", "best val loss", "val acc", "n-gram acc",
        "time", "state",
    )  # fmt: skip
    table = [header]
    for row in rows:
        if "error" in row:
            table.append(
                (row["name"], "?", "", row["error"][:60], "", "", "", "", "", row["state"])
            )
            continue
        loss, accuracy = row["best_val_loss"], row["best_val_accuracy"]
        baseline = row["baseline_val_accuracy"]
        state = row["state"] + (f" ({row['stopped_by']})" if row.get("stopped_by") else "")
        table.append(
            (
                row["name"],
                row["task"],
                row["input"],
                row["model"],
                f"{row['steps']:,}",
                "-" if loss is None else f"{loss:.4f}",
                "-" if accuracy is None else f"{accuracy:.4f}",
                "-" if baseline is None else f"{baseline:.4f}",
                _duration(row["wall_time_s"]),
                state,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
