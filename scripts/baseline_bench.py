"""Text classifiers against the n-gram baseline, on small labelled sets of different kinds.

Each set is written here from a fixed seed (nothing is downloaded; the sha256 of what was
written goes beside the figures), and cut once into train.tsv and test.tsv (a fifth of each
label held out). `configs/names-classify.yaml`, unchanged from set to set, trains on train.tsv
twice: as shipped, and with each recipe option turned the other way. Every figure is test
accuracy and macro-F1 from `charnn eval RUN --split test --json`: the examples no run chose
anything by (best.pt, early stopping, the baseline's smoothing and the mix weight are all chosen
on the validation split drawn from train.tsv). The baseline is the run's own character 1-3-gram
naive Bayes, scored by the same command on the same examples.

The sets (each at most 10,000 examples):
- `words`: words to their language, from the `wordfreq` package's word lists (12 languages,
  400 words each of ranks 1,000-6,000 that belong to one language only; wordfreq is a
  benchmark-only dependency: `pip install 'charnn[bench]'`);
- `logs`: log lines to the service that wrote them (scripts/service_logs.py, 500 a service);
- `brackets`: strings of brackets to whether they balance, 2,000 of 6 to 16 characters; each
  unbalanced one is a shuffled balanced one, so counting characters cannot tell them apart.

    python scripts/baseline_bench.py [--sets words,logs,brackets] [--work-dir DIR]
                                     [--out BENCHMARKS.md]

Writes its table into --out between `<!-- baseline:start -->` and `<!-- baseline:end -->`.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from charnn.data.labelled import stratified_rows
from reporting import charnn, cpu_name, markers, replace_block, rerun_command
from service_logs import service_log_rows

ROOT = Path(__file__).resolve().parent.parent
PRESET = ROOT / "configs" / "names-classify.yaml"
LANGUAGES = ("cs", "de", "en", "es", "fi", "fr", "it", "nl", "pl", "pt", "sv", "tr")
OPTIONS = {"model.ngram_mix": "false", "model.bidirectional": "false", "model.dropout": "0"}
"""The preset's recipe options, each measured by setting it to the value here instead."""


def words() -> list[tuple[str, str]]:
    try:
        import wordfreq
    except ImportError:
        sys.exit(
            "the words set needs wordfreq: pip install 'charnn[bench]' (or --sets logs,brackets)"
        )
    lists = {
        language: [
            word
            for word in wordfreq.top_n_list(language, 6000)[1000:]
            if word.isalpha() and len(word) >= 3
        ]
        for language in LANGUAGES
    }
    owners = collections.Counter(word for words in lists.values() for word in set(words))
    rng = random.Random(0)
    rows = []
    for language in LANGUAGES:
        own = [word for word in lists[language] if owners[word] == 1]
        rng.shuffle(own)
        rows += [(language, word) for word in own[:400]]
    return rows


def logs() -> list[tuple[str, str]]:
    return service_log_rows(500, seed=0)


def brackets() -> list[tuple[str, str]]:
    rng = random.Random(0)
    rows = []
    for index in range(2000):
        text = _balanced(rng.randrange(3, 9), rng)
        if index % 2:
            chars = list(text)
            while _balances(text):
                rng.shuffle(chars)
                text = "".join(chars)
        rows.append(("balanced" if _balances(text) else "unbalanced", text))
    return rows


def _balanced(pairs: int, rng: random.Random) -> str:
    """A random balanced string of `pairs` bracket pairs."""
    text, opened, left = [], 0, pairs
    while left or opened:
        if left and (not opened or rng.random() < 0.5):
            text.append("(")
            opened, left = opened + 1, left - 1
        else:
            text.append(")")
            opened -= 1
    return "".join(text)


def _balances(text: str) -> bool:
    depth = 0
    for char in text:
        depth += 1 if char == "(" else -1
        if depth < 0:
            return False
    return depth == 0


SETS: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "words": words,
    "logs": logs,
    "brackets": brackets,
}


def write_split(rows: list[tuple[str, str]], folder: Path) -> tuple[Path, Path, str]:
    """train.tsv and test.tsv (a fifth of each label held out, by seed 0), and their sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    train_rows, _, test_rows = stratified_rows(
        [label for label, _ in rows], val_fraction=0, test_fraction=0.2, seed=0
    )
    paths = folder / "train.tsv", folder / "test.tsv"
    digest = hashlib.sha256()
    for path, chosen in zip(paths, (train_rows, test_rows), strict=True):
        data = "".join(f"{rows[i][0]}\t{rows[i][1]}\n" for i in chosen).encode("utf-8")
        path.write_bytes(data)
        digest.update(data)
    return paths[0], paths[1], digest.hexdigest()


def measure(name: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    work = args.work_dir
    train_file, test_file, sha = write_split(SETS[name](), work / name / "data")
    chosen = [option for option in args.options.split(",") if option]
    variants = {"preset": []} | {
        f"{option}={OPTIONS[option]}": [f"{option}={OPTIONS[option]}"] for option in chosen
    }
    limit = [] if args.max_epochs is None else [f"train.max_epochs={args.max_epochs}"]
    results = {}
    for variant, overrides in variants.items():
        run = work / name / variant.replace("=", "-")
        sets = [
            item
            for override in [
                f"data.path={train_file}",
                f"data.test_path={test_file}",
                "device=cpu",
                *limit,
                *overrides,
            ]
            for item in ("--set", override)
        ]
        started = time.perf_counter()
        charnn("train", str(PRESET), *sets, "--out-dir", str(run), "--overwrite", env=env)
        seconds = time.perf_counter() - started
        record = json.loads(charnn("eval", str(run), "--split", "test", "--json", env=env))
        results[variant] = {**record, "command_s": seconds}
    return {
        "results": results,
        "sha256": sha,
        "train": _lines(train_file),
        "test": _lines(test_file),
    }


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def report(measured: dict[str, dict], command: str) -> str:
    rows = []
    option_rows = []
    for name, result in measured.items():
        preset = result["results"]["preset"]
        baseline = preset["baseline"]
        verdict = "**beats**" if preset["accuracy"] > baseline["accuracy"] else "does not beat"
        rows.append(
            f"| {name} ({result['train']:,} / {result['test']:,}) "
            f"| {baseline['accuracy']:.4f} | {baseline['macro_f1']:.4f} "
            f"| {preset['accuracy']:.4f} | {preset['macro_f1']:.4f} "
            f"| {preset['command_s']:.0f} s | {verdict} |"
        )
        for variant, other in result["results"].items():
            if variant == "preset":
                continue
            change = other["accuracy"] - preset["accuracy"]
            option_rows.append(
                f"| {name} | `{variant}` | {other['accuracy']:.4f} ({change:+.4f}) "
                f"| {other['macro_f1']:.4f} |"
            )
    digests = "; ".join(f"{name} `{result['sha256'][:16]}…`" for name, result in measured.items())
    return f"""Measured by `{command}` on {cpu_name()}, {os.cpu_count()} cores, torch
{torch.__version__}. Held-out test figures only (`charnn eval RUN --split test --json`); the
baseline is the run's own character 1-3-gram naive Bayes on the same test examples. sha256 of
train.tsv + test.tsv: {digests}.

| Set (train / test) | n-gram baseline | Macro-F1 | preset | Macro-F1 | `charnn train` | Verdict |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Each recipe option of the preset set otherwise (test accuracy, change from the preset):

| Set | Option | Accuracy | Macro-F1 |
|---|---|---|---|
{chr(10).join(option_rows)}"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="words,logs,brackets", help="comma-separated")
    parser.add_argument(
        "--options",
        default=",".join(OPTIONS),
        help="the recipe options to measure, comma-separated",
    )
    parser.add_argument("--max-epochs", type=int, help="override the preset's (a quick check)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "baseline-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    names = [name for name in args.sets.split(",") if name]
    unknown = [name for name in names if name not in SETS]
    unknown += [option for option in args.options.split(",") if option and option not in OPTIONS]
    if unknown:
        sys.exit(f"unknown set or option {unknown[0]!r}; use {', '.join([*SETS, *OPTIONS])}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    measured = {name: measure(name, args, env) for name in names}
    body = report(measured, rerun_command(__file__, argv))
    start, end = markers("baseline")
    replace_block(args.out, start, end, body)
    print(body)


if __name__ == "__main__":
    main()
