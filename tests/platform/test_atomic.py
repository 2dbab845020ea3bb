from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from charnn.platform.atomic import atomic_write


def test_the_file_appears_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    previous = os.umask(0o022)
    try:
        with atomic_write(target) as file:
            file.write(b"hello")
            assert not target.exists()  # nothing under the final name until the block ends
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failure_keeps_the_previous_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as file:
        file.write(b"half of the new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError), atomic_write(tmp_path / "missing" / "out.bin"):
        pass
