"""Sequence classification, measured: quality against a naive Bayes baseline, training speed
against a hand-written loop, and batched prediction.

The data set is generated here from a fixed seed (scripts/service_logs.py): log lines, each
labelled by the service that wrote it; each service gives `--per-class` lines, one in ten of
them held out for the test file. Nothing is downloaded and no data is committed; every machine
and Python version writes the same bytes, whose sha256 goes beside the figures.

1. Quality. A character n-gram (1 to 3) multinomial naive Bayes, trained and scored here, and
   charnn's classifier trained with `charnn train` for `--seconds` of CPU time; both scored on
   the same test file (`charnn eval --split test --json`).
2. Training speed. charnn's training loop and a hand-written padded loop (the same
   CharClassifier, AdamW, clipping and batches) take the same steps, side by side in rounds;
   examples/s and their ratio, and the padding overhead of the length-bucketed batches.
3. Prediction. `charnn predict RUN --file F` on `--predict-lines` lines: one batched pass.

    python scripts/classify_bench.py [--seconds 170] [--per-class 2000] [--work-dir DIR]
                                     [--out BENCHMARKS.md]

Writes its tables into --out between `<!-- classify:start -->` and `<!-- classify:end -->`.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from charnn.config import load_config
from charnn.inference.scoring import classify_metrics
from charnn.training.classification import ClassificationTask
from charnn.training.world import SINGLE_PROCESS
from classify_speed import charnn_speed, hand_written_speed
from reporting import charnn, cpu_name, in_rounds, markers, replace_block, rerun_command
from service_logs import SERVICES, service_log_rows

ROOT = Path(__file__).resolve().parent.parent
MODEL = [
    "task=classify",
    "device=cpu",
    "model.cell=lstm",
    "model.hidden_size=256",
    "model.num_layers=1",
    "model.embedding_dim=64",
    "model.bidirectional=true",
    "model.pooling=max",
    "model.dropout=0.2",
    "train.batch_size=64",
    "train.lr=3e-3",
]


def build_data(work: Path, per_class: int, seed: int = 0) -> tuple[Path, Path]:
    """train.tsv and test.tsv in `work`: `per_class` lines of each service, a tenth for test."""
    by_service: dict[str, list[str]] = collections.defaultdict(list)
    for service, line in service_log_rows(per_class, seed=seed):
        by_service[service].append(f"{service}\t{line}\n")
    held_out = per_class // 10
    work.mkdir(parents=True, exist_ok=True)
    train, test = work / "train.tsv", work / "test.tsv"
    test.write_text("".join(r for rows in by_service.values() for r in rows[:held_out]), "utf-8")
    train.write_text("".join(r for rows in by_service.values() for r in rows[held_out:]), "utf-8")
    return train, test


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(label, text) for label, text in rows]


def ngrams(text: str) -> list[str]:
    return [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]


def naive_bayes(train_rows: list[tuple[str, str]], test_rows: list[tuple[str, str]]) -> dict:
    """Multinomial naive Bayes over character 1- to 3-grams, add-one smoothing."""
    started = time.perf_counter()
    labels = sorted({label for label, _ in train_rows})
    counts = {label: collections.Counter() for label in labels}
    priors = collections.Counter(label for label, _ in train_rows)
    for label, text in train_rows:
        counts[label].update(ngrams(text))
    vocabulary = len(set().union(*counts.values()))
    totals = {label: sum(counts[label].values()) + vocabulary for label in labels}

    def log_likelihood(label: str, grams: list[str]) -> float:
        table, total = counts[label], totals[label]
        prior = math.log(priors[label] / len(train_rows))
        return prior + sum(math.log((table[gram] + 1) / total) for gram in grams)

    predicted = []
    for _, text in test_rows:
        grams = ngrams(text)
        scores = [log_likelihood(label, grams) for label in labels]
        predicted.append(scores.index(max(scores)))
    index = {label: i for i, label in enumerate(labels)}
    accuracy, macro_f1, _, confusion = classify_metrics(
        predicted, [index[label] for label, _ in test_rows], labels
    )
    return {
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "confusion": confusion,
        "labels": labels,
        "seconds": time.perf_counter() - started,
    }


def padding_overhead(task: ClassificationTask) -> float:
    """Padded positions over real characters, across one epoch's batches."""
    padded = real = 0
    for step in range(task.steps_per_epoch):
        batch = task.batch(step)
        assert batch.lengths is not None
        padded += batch.inputs.numel() - int(batch.lengths.sum())
        real += int(batch.lengths.sum())
    return padded / real


def table(result: dict) -> str:
    labels = result["labels"]
    head = "| true \\ predicted | " + " | ".join(labels) + " |"
    rule = "|---" * (len(labels) + 1) + "|"
    rows = [
        f"| {label} | " + " | ".join(str(n) for n in row) + " |"
        for label, row in zip(labels, result["confusion"], strict=True)
    ]
    return "\n".join([head, rule, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=170, help="charnn's training time")
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--speed-steps", type=int, default=60, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--predict-lines", type=int, default=10_000)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "classify-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    work = args.work_dir
    train_file, test_file = build_data(work / "data", args.per_class)
    train_rows, test_rows = read_tsv(train_file), read_tsv(test_file)

    # 1. Quality.
    bayes = naive_bayes(train_rows, test_rows)
    run = work / "run"
    data = [f"data.path={train_file}", f"data.test_path={test_file}", "data.val_fraction=0.1"]
    overrides = [*MODEL, *data]
    sets = [item for override in overrides for item in ("--set", override)]
    charnn(
        "train", *sets, "--out-dir", str(run), "--overwrite",
        "--set", "train.max_steps=null", "--set", f"train.max_time={args.seconds}",
        "--set", "train.eval_every=200", "--set", "train.log_every=100",
        env=env,
    )  # fmt: skip
    ours = json.loads(charnn("eval", str(run), "--split", "test", "--json", env=env))

    # 2. Training speed, side by side.
    config = load_config(overrides=overrides)
    task = ClassificationTask(config, SINGLE_PROCESS, torch.device("cpu"))
    steps = args.speed_steps
    rounds = in_rounds(
        {
            "charnn": lambda: charnn_speed(config, steps, work / "speed"),
            "hand-written": lambda: hand_written_speed(task, config, steps),
        },
        args.rounds,
    )
    rounds.log("examples/s")
    overhead = padding_overhead(task)

    # 3. Prediction: one batched pass over many lines.
    lines = [text for _, text in (test_rows * (args.predict_lines // len(test_rows) + 1))]
    predict_file = work / "predict.txt"
    predict_file.write_text("\n".join(lines[: args.predict_lines]) + "\n", encoding="utf-8")
    # Test lines may hold characters no training line has: drop them, as eval does.
    command = [
        "-m", "charnn", "predict", str(run), "--file", str(predict_file), "--device", "cpu",
        "--unknown-chars", "drop",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    rate = re.search(r"\(([\d,]+) examples/s\)", done.stderr)
    predict_rate = rate[1] if rate else "?"

    best = json.loads(charnn("info", str(run), "--json", env=env))
    bayes_row = (
        f"| Naive Bayes, character 1-3-grams | {bayes['accuracy']:.4f} | "
        f"{bayes['macro_f1']:.4f} | {bayes['seconds']:.1f} s (counting and scoring) |"
    )
    ours_row = (
        f"| charnn classifier | {ours['accuracy']:.4f} | {ours['macro_f1']:.4f} | "
        f"{best['wall_time_s']:.0f} s |"
    )
    body = f"""Measured by `{rerun_command(__file__)}` on {cpu_name()}, {os.cpu_count()} cores,
torch {torch.__version__}.

The data: synthetic log lines labelled by the service that wrote them
(`scripts/service_logs.py`, seed 0; {len(SERVICES)} classes: {", ".join(SERVICES)}; a twentieth
of the lines are ones any service writes), {len(train_rows):,} training lines (charnn holds a
tenth of them out for validation), {len(test_rows):,} test lines. The same bytes on every
machine: sha256 of train.tsv `{sha256(train_file)}`, of test.tsv `{sha256(test_file)}`.

**Quality** on the test lines (charnn: bidirectional LSTM 1x256, max pooling, {args.seconds:.0f}
s of training, {best["steps"]:,} steps; best.pt by val accuracy):

| Model | Accuracy | Macro-F1 | Training |
|---|---|---|---|
{bayes_row}
{ours_row}

charnn's confusion matrix on the test lines:

{table(ours)}

Naive Bayes' confusion matrix:

{table(bayes)}

**Training speed**, {args.rounds} alternating rounds of {steps} steps each, the same batches:

| Loop | Examples/s (median) |
|---|---|
| charnn, `train()` (the rate its metrics.jsonl records) | {rounds.median("charnn"):,.0f} |
| hand-written padded loop, same model, AdamW, clipping | {rounds.median("hand-written"):,.0f} |

charnn / hand-written: **{rounds.ratio("charnn", "hand-written"):.3f}** (rounds:
{rounds.ratio_range("charnn", "hand-written")}). Padding overhead of the length-bucketed batches:
{overhead:.3f} padded positions per real character.

**Prediction**: `charnn predict RUN --file F` on {args.predict_lines:,} lines: {predict_rate}
examples/s in the batched pass, {wall:.1f} s for the whole command (start-up included)."""
    start, end = markers("classify")
    replace_block(args.out, start, end, body)
    print(body)


if __name__ == "__main__":
    main()
