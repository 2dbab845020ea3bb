"""Measure charnn on a large corpus: preparing speed, peak memory, and start-up on a second run.

    python scripts/big_corpus.py                 # 1 GB corpus: a few minutes; writes BENCHMARKS.md
    python scripts/big_corpus.py --size-mb 50 --out /tmp/x.md   # a quick look

1. Generates the corpus: lines of words drawn with a fixed seed from Python's own help text,
   about 2% of them with words in other scripts (accents, Chinese, Cyrillic, Arabic, emoji), so
   that almost every chunk takes the general Unicode path rather than the all-ASCII shortcut.
2. Runs `charnn train` on it in a fresh process with an empty token cache (preparing, then a
   short training run), and again with the cache filled. For each it records the wall time,
   the time from process start to the first training step, the time spent preparing, and the
   process's peak resident memory (Linux VmHWM, as ru_maxrss: anonymous memory plus the pages
   of the memory-mapped token file it touched; the page cache of the corpus read is not in it).

The corpus is read right after it was written, so it comes from the page cache: the figures
are charnn's own speed, not the disk's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reporting import cpu_name, replace_block, rerun_command

REPO_ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- big-corpus:start -->", "<!-- big-corpus:end -->"
OTHER_SCRIPTS = ("café", "naïve", "世界", "明月光", "Привет", "مرحبا", "🌍", "½", "こんにちは")
TRAIN_SETTINGS = (
    "model.cell=lstm",
    "model.num_layers=1",
    "model.hidden_size=256",
    "train.batch_size=32",
    "train.seq_len=64",
    "train.max_steps=30",
    "train.eval_every=1000",
    "train.log_every=10",
    "train.eval_chars=50000",
    "device=cpu",
)

# Runs `charnn train` in this process, noting when preparing starts and ends and when the first
# training step starts; the clock starts before torch is imported.
CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from charnn.training import loop as trainer
from charnn.data import corpus as tokens  # prepare_corpus calls corpus.prepare
import charnn.cli
marks = {"imports_s": time.perf_counter() - started}
real_prepare, real_step = tokens.prepare, trainer.train_step
def prepare(*args, **kwargs):
    begun = time.perf_counter()
    result = real_prepare(*args, **kwargs)
    marks["prepare_s"] = marks.get("prepare_s", 0.0) + time.perf_counter() - begun
    return result
def step(*args, **kwargs):
    marks.setdefault("first_step_s", time.perf_counter() - started)
    return real_step(*args, **kwargs)
tokens.prepare, trainer.train_step = prepare, step
from charnn.cli import main
sys.argv = ["charnn", "train", *sys.argv[1:]]
try:
    main()
except SystemExit as stop:
    marks["exit"] = stop.code
marks["wall_s"] = time.perf_counter() - started
marks["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(OUT, "w") as out:
    json.dump(marks, out)
"""


def generate(path: Path, size_bytes: int, seed: int = 0) -> None:
    """Write about `size_bytes` of deterministic line-structured text."""
    from pydoc_data.topics import topics

    words = sorted({word for text in topics.values() for word in text.split() if word.isalpha()})
    rng = random.Random(seed)
    lines = []
    for _ in range(20_000):
        line = [rng.choice(words) for _ in range(rng.randint(3, 14))]
        if rng.random() < 0.02:
            line[rng.randrange(len(line))] = rng.choice(OTHER_SCRIPTS)
        lines.append(" ".join(line) + ".\n")
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < size_bytes:
            block = "".join(rng.choices(lines, k=20_000)).encode("utf-8")
            out.write(block.decode("utf-8"))
            written += len(block)


def run_train(corpus: Path, run_dir: Path, cache: Path, env: dict[str, str]) -> dict[str, float]:
    marks_file = run_dir.parent / f"{run_dir.name}.json"
    code = CHILD.replace("OUT", repr(str(marks_file)))
    overrides = [f"data.path={corpus}", f"out_dir={run_dir}", *TRAIN_SETTINGS]
    command = [sys.executable, "-c", code, "--overwrite"]
    for override in overrides:
        command += ["--set", override]
    subprocess.run(command, check=True, env=env | {"CHARNN_CACHE_DIR": str(cache)}, timeout=3600)
    marks = json.loads(marks_file.read_text())
    if marks.get("exit") not in (None, 0):
        raise SystemExit(f"charnn train failed (exit {marks['exit']})")
    return marks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="corpus size in MiB")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--work-dir", type=Path, help="where the corpus and cache go (temp)")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="charnn-big-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("CHARNN_CACHE_DIR", None)
    try:
        corpus, cache = work / "corpus.txt", work / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        began = time.perf_counter()
        generate(corpus, args.size_mb << 20)
        generated_s = time.perf_counter() - began
        size = corpus.stat().st_size
        first = run_train(corpus, work / "run-1", cache, env)
        second = run_train(corpus, work / "run-2", cache, env)
        token_bytes = sum(path.stat().st_size for path in cache.glob("*.ids"))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    command = rerun_command(__file__, argv)
    table = "\n".join(
        [
            f"Measured on {cpu_name()}, {os.cpu_count()} cores, with `{command}`: "
            f"a generated corpus of {size / 1e6:,.0f} MB ({size:,} bytes; generated in "
            f"{generated_s:.0f} s), token file {token_bytes / 1e6:,.0f} MB; `charnn train` with "
            f"{', '.join(TRAIN_SETTINGS)}.",
            "",
            "| run | preparing | preparing speed | first step after process start | "
            "of which importing torch and charnn | whole run | peak RSS |",
            "|---|---:|---:|---:|---:|---:|---:|",
            _row("first (empty cache)", first, size, cached=False),
            _row("second (cache filled)", second, size, cached=True),
        ]
    )
    replace_block(args.out, START, END, table)
    print(table)


def _row(name: str, marks: dict[str, float], size: int, *, cached: bool) -> str:
    prepare = marks.get("prepare_s", 0.0)
    speed = "(cached)" if cached else f"{size / max(prepare, 1e-9) / 1e6:,.0f} MB/s"
    return (
        f"| {name} | {prepare:.2f} s | {speed} | **{marks['first_step_s']:.2f} s** | "
        f"{marks['imports_s']:.2f} s | {marks['wall_s']:.1f} s | "
        f"**{marks['peak_rss_kib'] / 1024:,.0f} MiB** |"
    )


if __name__ == "__main__":
    main()
