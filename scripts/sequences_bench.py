"""Classifying sequences of numbers, measured: charnn's row-by-row LSTM (configs/mnist-rows.yaml)
against softmax regression on the same values, and charnn's training loop against a hand-written
one of the same model and batches.

Sets every machine can make offline:
- `digits`: scikit-learn's bundled 8 x 8 digits (1,797 images, pixels 0-16; scikit-learn is a
  benchmark-only dependency: `pip install scikit-learn`), read as 8 rows of 8 pixels;
- `bits`: the majority-bit task (scripts/majority_bits.py, seed 0): 2,000 bit strings of 5 to 25
  steps, one number a step, right-padded.

Each set is cut once by a fixed seed: a fifth of each label is test.npz, the rest train.npz.
Both models train on the same examples and choose on the same validation split (a tenth of each
label of train.npz, drawn as charnn draws it): softmax regression its L2 weight, charnn its
best.pt and when to stop. Both are scored on test.npz only. Softmax regression reads each
sequence's values standardised and flattened, with its real-step mask beside them.

The preset is sized for MNIST (422 steps an epoch); on these small sets the benchmark gives it
more epochs and evaluates more often: `train.max_epochs=60` (--max-epochs),
`train.eval_every=50`, `train.warmup_steps=20`, the same for every set. The table says "charnn"
and "softmax regression" for test accuracy. MNIST itself is not on this machine; where it
can be downloaded: `charnn train mnist-rows --data mnist` then
`charnn eval runs/mnist-rows --split test`.

    python scripts/sequences_bench.py [--sets digits,bits] [--rounds 5] [--work-dir DIR]
                                      [--out BENCHMARKS.md]

Writes its tables into --out between `<!-- sequences:start -->` and `<!-- sequences:end -->`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from charnn.config import load_config
from charnn.data.labelled import stratified_rows
from charnn.data.sequences import read_sequences
from charnn.inference.scoring import classify_metrics
from charnn.training.classification import ClassificationTask
from charnn.training.world import SINGLE_PROCESS
from classify_speed import charnn_speed, hand_written_speed
from majority_bits import as_arrays, majority_bit_rows
from reporting import charnn, cpu_name, in_rounds, markers, replace_block, rerun_command

ROOT = Path(__file__).resolve().parent.parent
SMALL_SET = ["train.eval_every=50", "train.warmup_steps=20"]
"""The preset's evaluations, resized for a set of a few thousand examples (and --max-epochs)."""
L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def digits() -> dict[str, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("the digits set needs scikit-learn: pip install scikit-learn (or --sets bits)")
    images = load_digits()
    return {"x": images.images.astype(np.uint8), "y": images.target.astype(np.int64)}


def bits() -> dict[str, np.ndarray]:
    return as_arrays(majority_bit_rows(2000, min_length=5, max_length=25, seed=0))


SETS = {"digits": digits, "bits": bits}


def write_split(arrays: dict[str, np.ndarray], folder: Path) -> tuple[Path, Path]:
    """train.npz and test.npz: a fifth of each label held out, by seed 0."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = [str(label) for label in arrays["y"].tolist()]
    train_rows, _, test_rows = stratified_rows(labels, val_fraction=0, test_fraction=0.2, seed=0)
    paths = folder / "train.npz", folder / "test.npz"
    for path, rows in zip(paths, (train_rows, test_rows), strict=True):
        np.savez(path, **{name: array[rows] for name, array in arrays.items()})
    return paths


def features(values: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
    """(N, T * F + T): the values flattened, and where the real steps are."""
    mask = np.arange(values.shape[1])[None, :] < lengths[:, None]
    flat = values.reshape(len(values), -1).astype(np.float32)
    return torch.from_numpy(np.concatenate([flat, mask.astype(np.float32)], axis=1))


def softmax_regression(train_file: Path, test_file: Path, seed: int) -> dict:
    """Multinomial logistic regression, full-batch L-BFGS, its L2 weight chosen on charnn's
    validation split; accuracy and macro-F1 on the test file."""
    started = time.perf_counter()
    data, _ = read_sequences(train_file, what="train")
    test, _ = read_sequences(test_file, what="test")
    labels = sorted(set(data.labels), key=lambda label: (len(label), label))
    index = {label: i for i, label in enumerate(labels)}
    fit_rows, val_rows, _ = stratified_rows(
        data.labels, val_fraction=0.1, test_fraction=0, seed=seed
    )
    x = features(data.values, data.lengths)
    mean, std = x[fit_rows].mean(0), x[fit_rows].std(0).clamp(min=1e-6)
    x = (x - mean) / std
    x_test = (features(test.values, test.lengths) - mean) / std
    y = torch.tensor([index[label] for label in data.labels])
    y_test = [index.get(label, -1) for label in test.labels]

    def fit(rows: list[int], l2: float) -> torch.nn.Linear:
        torch.manual_seed(seed)
        model = torch.nn.Linear(x.shape[1], len(labels))
        optimizer = torch.optim.LBFGS(
            model.parameters(), max_iter=500, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[rows]), y[rows]) + l2 * model.weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return model

    def accuracy(model: torch.nn.Linear, rows: list[int]) -> float:
        with torch.no_grad():
            return float((model(x[rows]).argmax(1) == y[rows]).float().mean())

    l2 = max(L2_GRID, key=lambda weight: accuracy(fit(fit_rows, weight), val_rows))
    model = fit(fit_rows, l2)
    with torch.no_grad():
        predicted = model(x_test).argmax(1).tolist()
    score, macro_f1, _, _ = classify_metrics(predicted, y_test, labels)
    return {
        "accuracy": score,
        "macro_f1": macro_f1,
        "l2": l2,
        "seconds": time.perf_counter() - started,
    }


def measure(name: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    work, rounds, speed_steps = args.work_dir, args.rounds, args.speed_steps
    train_file, test_file = write_split(SETS[name](), work / name / "data")
    overrides = [
        f"data.path={train_file}",
        f"data.test_path={test_file}",
        "device=cpu",
        f"train.max_epochs={args.max_epochs}",
        *SMALL_SET,
    ]
    seed = load_config(ROOT / "configs" / "mnist-rows.yaml", overrides).train.seed
    baseline = softmax_regression(train_file, test_file, seed)
    run = work / name / "run"
    sets = [item for override in overrides for item in ("--set", override)]
    started = time.perf_counter()
    charnn("train", "mnist-rows", *sets, "--out-dir", str(run), "--overwrite", env=env)
    command_s = time.perf_counter() - started
    ours = json.loads(charnn("eval", str(run), "--split", "test", "--json", env=env))
    info = json.loads(charnn("info", str(run), "--json", env=env))
    config = load_config(ROOT / "configs" / "mnist-rows.yaml", overrides)
    task = ClassificationTask(config, SINGLE_PROCESS, torch.device("cpu"))
    speed = in_rounds(
        {
            "charnn": lambda: charnn_speed(config, speed_steps, work / name / "speed"),
            "hand-written": lambda: hand_written_speed(task, config, speed_steps),
        },
        rounds,
    )
    speed.log(f"{name} examples/s")
    digest = hashlib.sha256(train_file.read_bytes() + test_file.read_bytes()).hexdigest()
    return {
        "baseline": baseline,
        "ours": ours,
        "info": info,
        "command_s": command_s,
        "speed": speed,
        "train": len(read_sequences(train_file, what="train")[0]),
        "test": ours["examples"],
        "sha256": digest,
    }


def report(results: dict[str, dict], args: argparse.Namespace, command: str) -> str:
    rounds, speed_steps = args.rounds, args.speed_steps
    quality = []
    speeds = []
    for name, result in results.items():
        base, ours, info, speed = (
            result["baseline"],
            result["ours"],
            result["info"],
            result["speed"],
        )
        inputs = info["inputs"]
        shape = f"{inputs['steps']} x {inputs['features']}"
        quality.append(
            f"| {name} ({result['train']:,} train / {result['test']:,} test, {shape}) "
            f"| {base['accuracy']:.4f} | {base['macro_f1']:.4f} | {base['seconds']:.1f} s "
            f"| **{ours['accuracy']:.4f}** | {ours['macro_f1']:.4f} "
            f"| {info['wall_time_s']:.1f} s ({info['steps']:,} steps; the command "
            f"{result['command_s']:.0f} s) |"
        )
        speeds.append(
            f"| {name} | {speed.median('charnn'):,.0f} | {speed.median('hand-written'):,.0f} "
            f"| **{speed.ratio('charnn', 'hand-written'):.3f}** "
            f"({speed.ratio_range('charnn', 'hand-written')}) |"
        )
    digests = "; ".join(f"{name} `{result['sha256'][:16]}…`" for name, result in results.items())
    return f"""Measured by `{command}` on {cpu_name()}, {os.cpu_count()} cores,
torch {torch.__version__}. charnn: `charnn train mnist-rows` (an LSTM 1x128 over the rows,
RMSprop, early stopping on val accuracy) with
`train.max_epochs={args.max_epochs} {" ".join(SMALL_SET)}`; softmax regression:
multinomial logistic regression on the standardised values and real-step mask, L-BFGS, its L2
weight chosen on the same validation split. Test accuracy on examples neither model chose by.
sha256 of train.npz + test.npz: {digests}.

| Set | Softmax regression | Macro-F1 | Fit ({len(L2_GRID)} L2s) | charnn | Macro-F1 | Training |
|---|---|---|---|---|---|---|
{chr(10).join(quality)}

**Training speed**, {rounds} alternating rounds of {speed_steps} steps each, the same batches:

| Set | charnn examples/s | hand-written loop (same model, RMSprop, clipping) | ratio (rounds) |
|---|---|---|---|
{chr(10).join(speeds)}"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="digits,bits", help="comma-separated: digits, bits")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--speed-steps", type=int, default=150, help="steps per timed round")
    parser.add_argument("--max-epochs", type=int, default=60, help="charnn's epoch limit")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "sequences-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    names = [name for name in args.sets.split(",") if name]
    unknown = [name for name in names if name not in SETS]
    if unknown:
        sys.exit(f"unknown set {unknown[0]!r}; use {', '.join(SETS)}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    results = {name: measure(name, args, env) for name in names}
    body = report(results, args, rerun_command(__file__, argv))
    start, end = markers("sequences")
    replace_block(args.out, start, end, body)
    print(body)


if __name__ == "__main__":
    main()
