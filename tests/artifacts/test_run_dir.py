from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from charnn.artifacts.run_dir import LOCK_NAME, RUN_FILES, in_use_by, start_run, training_lock
from charnn.errors import CheckpointError

from ..waiting import wait_until

HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from charnn.artifacts.run_dir import training_lock
with training_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    in_use = r"run is in use by another charnn train \(pid "
    run = tmp_path / "run"
    with training_lock(run), pytest.raises(CheckpointError, match=in_use), training_lock(run):
        pass
    with training_lock(run):  # free again once released
        pass


def test_a_killed_holder_does_not_keep_the_folder_locked(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(run)],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(CheckpointError, match=rf"pid {holder.pid} on "), training_lock(run):
            pass
        holder.send_signal(signal.SIGKILL)  # no chance to clean up
        holder.wait(timeout=10)
    finally:
        holder.kill()
        holder.wait(timeout=10)

    def lock_is_free() -> bool:  # the kernel drops the lock with the process
        try:
            with training_lock(run):
                return (run / LOCK_NAME).exists()
        except CheckpointError:
            return False

    wait_until(lock_is_free, "the killed holder's lock going away")


def test_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    unusable = r"cannot use run directory .*choose another out_dir"
    with pytest.raises(CheckpointError, match=unusable), training_lock(tmp_path / "file" / "run"):
        pass


def test_start_run_refuses_to_clobber_and_clears_on_overwrite(tmp_path: Path) -> None:
    for name in RUN_FILES:
        (tmp_path / name).write_text("old")
    with pytest.raises(CheckpointError, match="already holds a run; continue it with resume"):
        start_run(tmp_path, resuming=False, overwrite=False)
    start_run(tmp_path, resuming=True, overwrite=False)
    assert all((tmp_path / name).exists() for name in RUN_FILES)
    start_run(tmp_path, resuming=False, overwrite=True)
    assert not any((tmp_path / name).exists() for name in RUN_FILES)


def test_start_run_removes_half_written_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "last.pt").write_text("kept")
    torn = tmp_path / ".last.pt.0a1b2c3d.tmp"
    torn.write_text("torn by a kill")
    (tmp_path / ".notes.tmp").write_text("not ours")
    start_run(tmp_path, resuming=True, overwrite=False)
    assert not torn.exists()
    assert (tmp_path / ".notes.tmp").exists() and (tmp_path / "last.pt").read_text() == "kept"


def test_a_run_that_never_started_leaves_nothing_behind(tmp_path: Path) -> None:
    """`charnn train --data nope.txt --out-dir runs/typo` used to leave runs/typo/.lock, which
    `charnn plot runs/*` then tripped over."""
    new = tmp_path / "runs" / "typo"
    with pytest.raises(RuntimeError), training_lock(new):
        raise RuntimeError("the text file does not exist")
    assert not new.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError), training_lock(existing):
        raise RuntimeError("the text file does not exist")
    assert existing.is_dir() and not any(existing.iterdir())  # a folder the user made stays
    with training_lock(existing):
        (existing / "config.yaml").write_text("started\n")
    assert (existing / ".lock").is_file()  # a run that started keeps its record


def test_who_holds_a_folder_is_known_without_taking_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert in_use_by(run) is None
    with training_lock(run):
        assert in_use_by(run) == f"pid {os.getpid()} on {socket.gethostname()}"
        (run / "metrics.jsonl").write_text("")
    assert in_use_by(run) is None
