"""SIGKILL a training process at random moments, including mid-checkpoint-write, and resume.

Each kill must leave last.pt and best.pt loadable, and `--resume` must finish the run with the
same weights, bit for bit, as a run that was never killed. These tests start many processes,
so they are marked slow: `pytest` skips them, `bash scripts/test.sh` (CI) runs them.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.artifacts.metrics import MetricsLog

from ..conftest import tiny_classify_tree, tiny_tree

pytestmark = pytest.mark.slow

# Runs charnn with every fsync slowed down, so that a checkpoint write takes long enough for
# the test to kill the process in the middle of it. Test-only: charnn itself has no such hook.
SLOW_FSYNC_LAUNCHER = """
import os, sys, time
real_fsync = os.fsync
def slow_fsync(fd):
    time.sleep(0.15)
    real_fsync(fd)
os.fsync = slow_fsync
from charnn.cli import main
sys.argv[0] = "charnn"
main()
"""
STEPS = 120


def start(
    config: Path, *extra: str, env: dict[str, str], slow_writes: bool = True
) -> subprocess.Popen[str]:
    launcher = ["-c", SLOW_FSYNC_LAUNCHER] if slow_writes else ["-m", "charnn"]
    return subprocess.Popen(
        [sys.executable, *launcher, "train", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_a_checkpoint_write(run: Path, process: subprocess.Popen[str]) -> bool:
    """Poll until a checkpoint's temporary file exists (the write is under way)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if run.exists() and any(run.glob(".*.pt.*.tmp")):
            return True
        time.sleep(0.002)
    return False


def assert_checkpoints_load(run: Path) -> None:
    for name in ("last.pt", "best.pt"):
        if (run / name).exists():
            checkpoint = load_checkpoint(run / name)  # raises if torn or damaged
            assert 0 < checkpoint.step <= STEPS


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_run(
    corpus_file: Path, bits_file: Path, tmp_path: Path, subprocess_env: dict[str, str], task: str
) -> None:
    def config_for(name: str) -> Path:
        if task == "classify":
            tree = tiny_classify_tree(bits_file, tmp_path / name, max_steps=STEPS, eval_every=10)
        else:
            tree = tiny_tree(corpus_file, tmp_path / name, max_steps=STEPS, eval_every=10)
        tree["model"]["dropout"] = 0.1  # type: ignore[index]  # RNG state matters on resume
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(tree), encoding="utf-8")
        return path

    whole_config, killed_config = config_for("whole"), config_for("killed")
    whole = start(whole_config, env=subprocess_env, slow_writes=False)
    assert whole.wait(timeout=120) == 0, whole.stderr.read() if whole.stderr else ""

    run = tmp_path / "killed"
    moments = random.Random(20261124)
    plan = ["mid-write", 1.0, "mid-write", moments.uniform(2.0, 4.0), "mid-write", 3.0]
    kills = torn_writes = 0
    for moment in plan:
        resume = ["--resume"] if (run / "last.pt").exists() else ["--overwrite"]
        process = start(killed_config, *resume, env=subprocess_env)
        if moment == "mid-write":
            if not wait_for_a_checkpoint_write(run, process):
                break  # the run finished first
        else:
            time.sleep(float(moment))
        process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=30)
        if code == 0:
            break
        assert code == -signal.SIGKILL
        kills += 1
        torn_writes += bool(list(run.glob(".*.pt.*.tmp")))  # killed with a write under way
        assert_checkpoints_load(run)
    assert kills >= 4, "too few kills landed before the run finished"
    assert torn_writes >= 2, "too few kills landed in the middle of a checkpoint write"

    finish = start(killed_config, "--resume", env=subprocess_env)
    assert finish.wait(timeout=120) == 0, finish.stderr.read() if finish.stderr else ""

    expected = load_checkpoint(tmp_path / "whole" / "last.pt")
    got = load_checkpoint(run / "last.pt")
    assert got.step == expected.step == STEPS
    for name, tensor in expected.model_state.items():
        assert torch.equal(got.model_state[name], tensor), name
    assert got.best_val_loss == expected.best_val_loss
    assert not list(run.glob(".*.tmp"))  # half-written files of the killed runs are gone
    steps = [r["step"] for r in MetricsLog(run / "metrics.jsonl").read() if r["event"] == "train"]
    assert steps == list(range(10, STEPS + 1, 10))  # each step once, in order
