"""The run directory: which files it holds, who may write to it, and starting a run in it.

    runs/x/
      config.yaml     the resolved config (human-readable; the checkpoints carry their own)
      last.pt         the latest state, for --resume
      best.pt         the weights with the lowest validation loss, for sample and eval
      metrics.jsonl   one JSON record per report and per evaluation
      samples.jsonl   text sampled while training (train.sample_every)
      status.json     how the latest session ended: finished, stopped or diverged
      tensorboard/    the same records as TensorBoard events (train.tensorboard: true)
      .lock           held by the process training into the folder

Only one process may train into a folder at a time. The lock is an OS-level advisory lock on
`.lock` (flock), which the kernel releases when the holder exits for any reason, SIGKILL
included, so a crashed run never leaves the folder locked. The file itself stays once a run
has started; it only records who held it last, for the error message. A run that never
started (a mistake in its config or data) removes it again.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

from charnn.artifacts.checkpoint import BEST_NAME, LAST_NAME
from charnn.errors import CheckpointError, key
from charnn.platform.atomic import atomic_write, remove_stale_temporaries

CONFIG_NAME = "config.yaml"
METRICS_NAME = "metrics.jsonl"
SAMPLES_NAME = "samples.jsonl"
STATUS_NAME = "status.json"
RUN_STATES = ("running", "finished", "stopped", "diverged")
LOCK_NAME = ".lock"
TENSORBOARD_DIR = "tensorboard"
"""train.tensorboard's event files: part of the run, cleared with it."""
WANDB_DIR = "wandb"
"""train.wandb_project's local files (W&B's own folder, and the id charnn keeps)."""
RUN_FILES = (LAST_NAME, BEST_NAME, METRICS_NAME, CONFIG_NAME, SAMPLES_NAME, STATUS_NAME)


@contextmanager
def training_lock(run_dir: Path) -> Iterator[None]:
    """Hold the folder's lock for the duration of the block, or refuse if another process does.

    A run that never got going (its text missing, say) leaves nothing behind: when the block
    ends and the folder holds no run file, the lock file goes, and the folder too if this call
    made it and it is empty.
    """
    made = not run_dir.exists()
    file = _locked_file(run_dir)
    try:
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        file.flush()
        try:
            yield
        finally:
            _tidy_unstarted(run_dir, made=made)
    finally:
        file.close()  # closing releases the lock


def _locked_file(run_dir: Path) -> TextIO:
    """The folder's lock file, opened and locked by this process; or one clear error."""
    path = run_dir / LOCK_NAME
    for _ in range(10):
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            file = path.open("a+", encoding="utf-8")
        except OSError as error:
            raise CheckpointError(
                f"cannot use run directory {run_dir}: {error.strerror or error}; "
                f"choose another {key('out_dir')}"
            ) from None
        if not _try_lock(file):
            holder = _lock_holder(file)
            file.close()
            raise CheckpointError(
                f"{run_dir} is in use by another charnn train ({holder}); wait for it to "
                f"finish or stop it, or train into another {key('out_dir')}"
            )
        # The holder before may have removed the file (a run that never started) after this
        # process opened it: a lock on a removed file locks nothing, so take the new one.
        try:
            if os.fstat(file.fileno()).st_ino == path.stat().st_ino:
                return file
        except OSError:
            pass
        file.close()
    raise CheckpointError(f"could not lock {path}: it keeps being replaced; try again")


def _tidy_unstarted(run_dir: Path, *, made: bool) -> None:
    """Remove the lock file (and the folder, if made for this run and now empty) when no run
    file was written: the run never started. Called while the lock is still held."""
    if any((run_dir / name).exists() for name in RUN_FILES):
        return
    with suppress(OSError):
        (run_dir / LOCK_NAME).unlink()
        if made:
            run_dir.rmdir()  # fails, and is left, if anything else is in it


def in_use_by(run_dir: Path) -> str | None:
    """Who holds the folder's training lock now (None: no one, or no such folder)."""
    lock = run_dir / LOCK_NAME
    if not lock.is_file():
        return None
    try:
        file = lock.open("r+", encoding="utf-8")
    except OSError:
        return None
    with file:
        if _try_lock(file):
            return None  # free: closing the file releases the lock just taken
        return _lock_holder(file)


def _lock_holder(file: TextIO) -> str:
    try:
        file.seek(0)
        return file.read().strip() or "another process"
    except OSError:  # Windows: the locked byte cannot be read
        return "another process"


def start_run(run_dir: Path, *, resuming: bool, overwrite: bool) -> None:
    """Make the (locked) folder ready: refuse to clobber a run by accident, clear a new one."""
    if not resuming:
        if any((run_dir / name).exists() for name in (LAST_NAME, BEST_NAME)) and not overwrite:
            raise CheckpointError(
                f"{run_dir} already holds a run; continue it with {key('resume')}, start over "
                f"with {key('overwrite')} (deletes its checkpoints), or choose another "
                f"{key('out_dir')}"
            )
        # A new run starts clean (also after a run that died before its first checkpoint).
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        # The old run's event files would be drawn over the new run's in TensorBoard.
        shutil.rmtree(run_dir / TENSORBOARD_DIR, ignore_errors=True)
        shutil.rmtree(run_dir / WANDB_DIR, ignore_errors=True)  # a new run is a new W&B run
    # Half-written checkpoints of a process that was killed mid-write; we hold the lock, so
    # no one else is writing them now.
    remove_stale_temporaries(run_dir)


def write_status(run_dir: Path, state: str, **details: object) -> None:
    """Record how the latest session stands (`running` while it trains), for charnn runs.
    Best effort: a status that cannot be written (a full disk) must not hide why a run
    stopped; charnn runs then reads the run as stopped."""
    if state not in RUN_STATES:
        raise ValueError(f"unknown run state {state!r}")
    with suppress(OSError), atomic_write(run_dir / STATUS_NAME) as file:
        file.write(json.dumps({"state": state, **details}).encode("utf-8"))


def run_state(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """(running, finished, stopped or diverged; the status file's details). A session that
    says it is running while no process holds the folder was killed: stopped."""
    if in_use_by(run_dir) is not None:
        return "running", {}
    try:
        status = json.loads((run_dir / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    state = status.get("state") if isinstance(status, dict) else None
    if state not in RUN_STATES or state == "running":
        return "stopped", status if isinstance(status, dict) else {}
    return str(state), status


if sys.platform == "win32":
    import msvcrt

    def _try_lock(file: TextIO) -> bool:
        file.seek(0)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(file: TextIO) -> bool:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
