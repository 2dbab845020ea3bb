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
from pathlib import Path

import pytest
import torch
import yaml

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.artifacts.metrics import MetricsLog

from ..conftest import tiny_classify_tree, tiny_tree
from ..waiting import DEADLINE_S, LineReader, wait_until

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


def temporaries(run: Path) -> set[str]:
    """The checkpoint writes under way (or torn by a kill): their temporary files."""
    return {path.name for path in run.glob(".*.pt.*.tmp")}


def resumes_at(run: Path) -> int:
    return load_checkpoint(run / "last.pt").step if (run / "last.pt").exists() else 0


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
        # log_every=1: a progress line each step, for the kills between checkpoints to wait on.
        if task == "classify":
            tree = tiny_classify_tree(
                bits_file, tmp_path / name, max_steps=STEPS, eval_every=10, log_every=1
            )
        else:
            tree = tiny_tree(
                corpus_file, tmp_path / name, max_steps=STEPS, eval_every=10, log_every=1
            )
        tree["model"]["dropout"] = 0.1  # type: ignore[index]  # RNG state matters on resume
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(tree), encoding="utf-8")
        return path

    whole_config, killed_config = config_for("whole"), config_for("killed")
    # The uninterrupted run trains alongside the killed ones: it only has to finish by the end.
    whole = start(whole_config, env=subprocess_env, slow_writes=False)

    run = tmp_path / "killed"
    # Each kill waits for a state, never for a duration, and comes after a checkpoint exists,
    # so that a slower machine only waits longer: either in the middle of a checkpoint write,
    # or a few steps past the one the session resumed from (between two checkpoints).
    moments = random.Random(20261124)
    plan = ["mid-write", "mid-step", "mid-write", "mid-step"]
    kills = torn_writes = 0
    for moment in plan:
        resume = ["--resume"] if (run / "last.pt").exists() else ["--overwrite"]
        before, resumed_at = temporaries(run), resumes_at(run)
        process = start(killed_config, *resume, env=subprocess_env)
        assert process.stderr is not None
        told = LineReader(process.stderr)  # its progress lines, one a step
        wait_until(lambda: (run / "last.pt").exists(), "a first checkpoint", process=process)
        if moment == "mid-write":
            # A temporary file this session made: a write is under way.
            wait_until(
                lambda before=before: bool(temporaries(run) - before),
                f"a checkpoint write after step {resumed_at}",
                process=process,
            )
        else:
            step = resumed_at + moments.randint(1, 9)  # its next checkpoint comes at +10
            line = f"step {step} |"
            told.wait_for(lambda told_line, line=line: told_line.startswith(line), f"step {step}")
        process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=DEADLINE_S)
        assert code == -signal.SIGKILL, told.rest()
        kills += 1
        torn_writes += bool(temporaries(run) - before)  # killed with a write under way
        assert_checkpoints_load(run)
    assert kills == len(plan)
    assert torn_writes >= 2, "too few kills landed in the middle of a checkpoint write"

    finish = start(killed_config, "--resume", env=subprocess_env, slow_writes=False)
    _, told_at_the_end = finish.communicate(timeout=DEADLINE_S)
    assert finish.returncode == 0, told_at_the_end
    _, told_by_whole = whole.communicate(timeout=DEADLINE_S)
    assert whole.returncode == 0, told_by_whole

    expected = load_checkpoint(tmp_path / "whole" / "last.pt")
    got = load_checkpoint(run / "last.pt")
    assert got.step == expected.step == STEPS
    for name, tensor in expected.model_state.items():
        assert torch.equal(got.model_state[name], tensor), name
    assert got.best_val_loss == expected.best_val_loss
    assert not list(run.glob(".*.tmp"))  # half-written files of the killed runs are gone
    steps = [r["step"] for r in MetricsLog(run / "metrics.jsonl").read() if r["event"] == "train"]
    assert steps == list(range(1, STEPS + 1))  # each step once, in order
