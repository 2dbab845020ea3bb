"""Train each shipped Tiny Shakespeare config for its 80-second budget, then score it.

For each cell this runs, in fresh processes, exactly what a user would type:

    charnn train configs/shakespeare-CELL.yaml --out-dir runs/shakespeare-80s/CELL --overwrite
    charnn eval runs/shakespeare-80s/CELL --json

and prints a Markdown table of the validation loss `charnn eval` reports (the last 10% of the
corpus, hidden state carried through it), with the machine it ran on. `--update-docs`
also writes the table into docs/performance.md between its shakespeare-80s markers.

    python scripts/shakespeare_80s.py [--cells lstm gru rnn] [--data-dir DIR] [--update-docs]

`--data-dir` names a folder that already holds tinyshakespeare.txt (otherwise charnn downloads
it once into data/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

from charnn.artifacts.checkpoint import load_checkpoint
from reporting import charnn, cpu_name, replace_block, rerun_command

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- shakespeare-80s:start -->", "<!-- shakespeare-80s:end -->"


def measure(cell: str, env: dict[str, str]) -> dict[str, object]:
    config_file = ROOT / "configs" / f"shakespeare-{cell}.yaml"
    run = ROOT / "runs" / "shakespeare-80s" / cell
    charnn(
        "train",
        str(config_file.relative_to(ROOT)),
        "--out-dir",
        str(run.relative_to(ROOT)),
        "--overwrite",
        env=env,
    )
    scored = json.loads(charnn("eval", str(run.relative_to(ROOT)), "--json", env=env))
    last = load_checkpoint(run / "last.pt")
    train, model = last.config.train, last.config.model
    return {
        "cell": cell,
        "model": f"{model.num_layers}x{model.hidden_size}",
        "parameters": sum(t.numel() for t in last.model_state.values()),
        "steps": last.step,
        "seconds": last.elapsed_s,
        "train_chars_per_s": last.step * train.batch_size * train.seq_len / last.elapsed_s,
        "val_loss": scored["loss"],
        "val_bpc": scored["bpc"],
        "chars": scored["chars"],
    }


def table(rows: list[dict[str, object]], command: str) -> str:
    names = {"lstm": "LSTM", "gru": "GRU", "rnn": "tanh RNN (SimpleRNN)"}
    lines = [
        f"Measured on {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}, with `{command}`:",
        "",
        "| cell | layers x hidden | parameters | steps in 80 s | train chars/s "
        "| val loss (nats/char) | val bits/char |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            names[str(row["cell"])],
            row["model"],
            f"{row['parameters']:,}",
            f"{row['steps']:,}",
            f"{row['train_chars_per_s']:,.0f}",
            f"**{row['val_loss']:.4f}**",
            f"{row['val_bpc']:.3f}",
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines.append("")
    lines.append(
        f"Validation: the last 10% of Tiny Shakespeare, {rows[0]['chars']:,} characters scored."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cells", nargs="+", default=["lstm", "gru", "rnn"], choices=["lstm", "gru", "rnn"]
    )
    parser.add_argument("--data-dir", type=Path, help="a folder holding tinyshakespeare.txt")
    parser.add_argument(
        "--update-docs", action="store_true", help="write the table into docs/performance.md"
    )
    args = parser.parse_args()

    env = dict(os.environ)
    if args.data_dir is not None:
        env["CHARNN_DATA_DIR"] = str(args.data_dir.resolve())
    rows = [measure(cell, env) for cell in args.cells]
    command = rerun_command(__file__)
    markdown = table(rows, command)
    print(markdown)
    if args.update_docs:
        replace_block(PERFORMANCE_DOC, START, END, markdown, append=False)
        print("docs/performance.md updated", file=sys.stderr)


if __name__ == "__main__":
    main()
