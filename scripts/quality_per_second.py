"""How good a model charnn trains on Tiny Shakespeare in a time budget, and how it gets there.

Runs, in fresh processes, what a user would type (here for the 80-second CPU config):

    charnn train configs/shakespeare-cpu.yaml --out-dir runs/quality/final --overwrite
    charnn eval runs/quality/final --json               # state carried through the val split
    charnn eval runs/quality/final --window 64 --json   # independent 64-char windows

then the same config again with an evaluation every 250 steps (`--curve-every`), for the curve
of validation loss against seconds (evaluations take time from that run's budget, so its last
point sits a little above the first run's). With `--baseline KEY=VALUE` (repeatable), the config
is also trained and scored with those overrides, for a comparison in the same run (for the CPU
config: `--baseline train.precision=fp32 --baseline model.hidden_size=384`, what it was before
bf16). Writes both into BENCHMARKS.md between the markers
named after the config, `<!-- quality:NAME:start -->` and `<!-- quality:NAME:end -->` (NAME:
the config file's name without .yaml), so the CPU and GPU configs each keep their own table.

    python scripts/quality_per_second.py [--data-dir DIR] [--config FILE] [--curve-every N]
                                         [--baseline KEY=VALUE ...] [--work-dir DIR]
                                         [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from charnn.artifacts.checkpoint import load_checkpoint
from reporting import charnn, cpu_name, markers, replace_block, rerun_command

ROOT = Path(__file__).resolve().parent.parent


def machine(checkpoint_device: str) -> str:
    """What the run trained on, as the checkpoint recorded it."""
    if checkpoint_device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(checkpoint_device))} (CUDA)"
    return f"{cpu_name()}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="a folder holding tinyshakespeare.txt")
    parser.add_argument("--config", default="configs/shakespeare-cpu.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--curve-every", type=int, default=250, help="steps between evaluations")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="also train and score the config with this override (repeatable), to compare",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    if args.data_dir:
        env["CHARNN_DATA_DIR"] = str(Path(args.data_dir).resolve())
    final, curve, baseline = (args.work_dir / name for name in ("final", "curve", "baseline"))

    charnn("train", args.config, "--out-dir", str(final), "--overwrite", env=env)
    carried = json.loads(charnn("eval", str(final), "--json", env=env))
    windowed = json.loads(charnn("eval", str(final), "--window", "64", "--json", env=env))
    charnn(
        "train", args.config, "--out-dir", str(curve), "--overwrite",
        "--set", f"train.eval_every={args.curve_every}", env=env,
    )  # fmt: skip
    compared = None
    if args.baseline:
        overrides = [part for override in args.baseline for part in ("--set", override)]
        charnn("train", args.config, "--out-dir", str(baseline), "--overwrite", *overrides, env=env)
        compared = json.loads(charnn("eval", str(baseline), "--json", env=env))
    records = [json.loads(line) for line in (curve / "metrics.jsonl").read_text().splitlines()]
    points = [(r["elapsed_s"], r["step"], r["val_loss"]) for r in records if r["event"] == "eval"]

    command = rerun_command(__file__)
    trained_on = load_checkpoint(final / "last.pt").device
    lines = [
        f"Measured on {machine(trained_on)}, torch {torch.__version__}, with `{command}`.",
        "",
        f"| scoring of the val split ({carried['chars'] + 1:,} chars) | loss (nats/char) | "
        "bits/char |",
        "|---|---:|---:|",
        f"| state carried through the whole text (charnn's default) | **{carried['loss']:.4f}** | "
        f"{carried['bpc']:.3f} |",
        f"| independent windows of 64 characters (`--window 64`, a context-64 model's protocol) | "
        f"{windowed['loss']:.4f} | {windowed['bpc']:.3f} |",
        *(
            [
                f"| the same config with {', '.join(f'`{o}`' for o in args.baseline)}, state "
                f"carried ({compared['step']:,} steps) | {compared['loss']:.4f} | "
                f"{compared['bpc']:.3f} |"
            ]
            if compared is not None
            else []
        ),
        "",
        f"Steps trained: {carried['step']:,}.",
        "",
        "Validation loss against training seconds (the same config, evaluated every "
        f"{args.curve_every:,} steps):",
        "",
        "| seconds | step | val loss |",
        "|---:|---:|---:|",
        *[f"| {seconds:.0f} | {step:,} | {loss:.4f} |" for seconds, step, loss in points],
    ]
    block = "quality:" + Path(args.config).name.removesuffix(".yaml")  # one per config
    replace_block(args.out, *markers(block), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
