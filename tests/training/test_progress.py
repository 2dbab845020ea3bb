from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import sys
import termios
from collections.abc import Iterator

import pytest

from charnn.training.progress import Progress, terminal_columns


@contextlib.contextmanager
def pty_stderr(monkeypatch: pytest.MonkeyPatch, columns: int) -> Iterator[None]:
    """sys.stderr as a pseudo-terminal that reports `columns` columns (set in the test itself:
    pytest puts its own capture back between a fixture and the test)."""
    main, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    with os.fdopen(follower, "w") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        try:
            yield
        finally:
            monkeypatch.undo()
            os.close(main)


def test_a_terminal_of_no_width_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """`script -q -c 'charnn train ...'` reports 0 columns: tqdm would draw nothing there."""
    with pty_stderr(monkeypatch, 0):
        assert sys.stderr.isatty() and terminal_columns(sys.stderr) == 0
        with Progress(total_steps=10, initial_step=0) as progress:
            assert not progress.interactive


def test_a_terminal_with_a_width_gets_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    with pty_stderr(monkeypatch, 80), Progress(total_steps=10, initial_step=0) as progress:
        assert progress.interactive
