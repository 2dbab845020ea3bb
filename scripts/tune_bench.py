"""`charnn tune` against a shipped preset, in one session: a study of fixed-time trials, then
the preset retrained with the same time budget, both scored on the same validation split.

    python scripts/tune_bench.py --preset shakespeare-lstm \\
        --data ../shared/data/tinyshakespeare.txt --time 14m --trial-time 80s
    python scripts/tune_bench.py --preset names-classify --data train.tsv --test-file test.tsv \\
        --time 5m --trial-time 20s

With --test-file (labelled examples no trial saw), both are also scored there, and the verdict
is taken on those figures rather than on the validation split the study chose its best by.
The preset runs with `train.max_time` set to the trials' time and its step and epoch limits
lifted, as every trial does, so the two compare quality per second. Writes a row into --out
between `<!-- tune:start -->` and `<!-- tune:end -->`, keeping the rows of other presets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from pathlib import Path

import torch

from reporting import ROOT, charnn, cpu_name, markers, replace_block

ROW = re.compile(r"^\| `(?P<preset>[^`]+)` ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--time", default="14m", help="the study's time (charnn tune --time)")
    parser.add_argument("--trial-time", default="80s")
    parser.add_argument(
        "--test-file", type=Path, help="held-out labelled examples: the verdict is on these"
    )
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "tune-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    work = args.work_dir / args.preset
    study = work / "study"
    data = ["--data", str(args.data.resolve()), "--device", "cpu"]
    started = time.perf_counter()
    charnn(
        "tune", args.preset, *data, "--time", args.time, "--trial-time", args.trial_time,
        "--study", str(study), env=env,
    )  # fmt: skip
    study_s = time.perf_counter() - started
    seconds = _seconds(args.trial_time)
    preset_run = work / "preset"
    charnn(
        "train", args.preset, *data, "--out-dir", str(preset_run), "--overwrite",
        "--set", "train.max_steps=null", "--set", "train.max_epochs=null",
        "--set", f"train.max_time={seconds}",
        env=env,
    )  # fmt: skip
    listed = charnn("runs", str(study), "--json", env=env).splitlines()
    runs = [json.loads(line) for line in listed if line]
    trials = [row for row in runs if row["name"].startswith("trial-")]
    header = (study / "best.yaml").read_text(encoding="utf-8").splitlines()[0]
    found = re.search(r"trial (\d+)", header)
    if found is None:
        raise SystemExit(f"{study / 'best.yaml'} does not name its trial")
    best_run = study / f"trial-{int(found[1]):03d}"
    scores = {
        name: json.loads(charnn("eval", str(run), "--json", env=env))
        for name, run in (("preset", preset_run), ("best", best_run))
    }
    info = json.loads(charnn("info", str(best_run), "--json", env=env))
    key = "loss" if "bpc" in scores["preset"] else "accuracy"
    held_out = {}
    if args.test_file is not None:  # the split no trial was chosen by
        test = ["--file", str(args.test_file.resolve()), "--unknown-chars", "drop", "--json"]
        held_out = {
            name: json.loads(charnn("eval", str(run), *test, env=env))
            for name, run in (("preset", preset_run), ("best", best_run))
        }
    judged = held_out or scores
    better = (
        judged["best"][key] < judged["preset"][key]
        if key == "loss"
        else judged["best"][key] > judged["preset"][key]
    )
    verdict = "**the study wins**" if better else "the preset holds"
    if key == "accuracy":
        # Two accuracies on the same n examples differ by chance about sqrt(2 p (1 - p) / n).
        p, n = judged["preset"][key], judged["preset"]["examples"]
        noise = 2 * math.sqrt(2 * p * (1 - p) / n)
        if abs(judged["best"][key] - p) < noise:
            verdict = f"within noise (±{noise:.3f} on {n:,} examples): the preset holds"
    pruned = sum(1 for row in trials if row.get("stopped_by") == "pruned")
    model = info["model"]

    def figures(name: str) -> str:
        shown = f"val {key} {scores[name][key]:.4f}"
        if held_out:
            shown += f"; held-out {held_out[name][key]:.4f}"
        return shown

    row = (
        f"| `{args.preset}` | {args.data.name} | {len(trials)} ({pruned} pruned) "
        f"| {study_s / 60:.1f} min | {seconds:g} s | {figures('preset')} "
        f"| {figures('best')}: {model['cell']} {model['num_layers']}x"
        f"{model['hidden_size']}, emb {model['embedding_dim']}, dropout {model['dropout']:.2f} "
        f"| {verdict} |"
    )
    _add_row(args.out, args.preset, row)
    print(row)


def _seconds(text: str) -> float:
    number, unit = float(text.rstrip("smh")), text[-1]
    return number * {"s": 1, "m": 60, "h": 3600}.get(unit, 1)


def _add_row(out: Path, preset: str, row: str) -> None:
    start, end = markers("tune")
    text = out.read_text(encoding="utf-8")
    old = text.split(start, 1)[1].split(end, 1)[0] if start in text else ""
    rows = [line for line in old.splitlines() if ROW.match(line)]
    rows = [line for line in rows if ROW.match(line)["preset"] != preset] + [row]  # type: ignore[index]
    body = f"""Measured by `python scripts/tune_bench.py` on {cpu_name()}, {os.cpu_count()} cores,
torch {torch.__version__}; one study per row, run in one session with its preset's retraining.

| Preset | Data | Trials | Study time | Trial time | Preset, retrained | Study's best | Verdict |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}"""
    replace_block(out, start, end, body)


if __name__ == "__main__":
    main()
