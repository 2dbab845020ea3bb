"""Waiting for a state, never for a duration.

A test that needs another process to reach a state (a checkpoint written, a line printed, a
step taken) polls for that state. The deadline is generous, so a slow machine only waits
longer, and a state that never comes fails the test with a message naming it.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

import pytest

DEADLINE_S = 180.0
"""How long a state may take to come: far past what any machine needs, short of CI's limit."""


def wait_until(
    condition: Callable[[], bool],
    what: str,
    *,
    process: subprocess.Popen[str] | None = None,
    timeout: float = DEADLINE_S,
) -> None:
    """Return once `condition()` holds; fail naming `what` if `process` ends first or the
    deadline passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what} never happened: the process ended first ({process.returncode})")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never happened within {timeout:.0f} s")
        time.sleep(0.002)


class LineReader:
    """Reads a stream's lines on a thread of its own, so that waiting for one can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)  # the end of the stream

    def wait_for(
        self, wanted: Callable[[str], bool], what: str, timeout: float = DEADLINE_S
    ) -> str:
        """The first line from here on for which `wanted` holds; fail naming `what` if the
        stream ends or the deadline passes first."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._next(deadline, what)
            if line is None:
                pytest.fail(f"{what} never came: the stream ended first; it read:\n{self.text()}")
            if wanted(line):
                return line

    def rest(self, timeout: float = DEADLINE_S) -> str:
        """Every line after those waited for, up to the end of the stream."""
        start, deadline = len(self.lines), time.monotonic() + timeout
        while self._next(deadline, "the end of the stream") is not None:
            pass
        return "".join(self.lines[start:])

    def text(self) -> str:
        return "".join(self.lines)

    def _next(self, deadline: float, what: str) -> str | None:
        """The next line (kept in `lines`), or None at the end of the stream."""
        try:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"{what} never came before the deadline; it read:\n{self.text()}")
        if line is None:
            self._queue.put(None)  # the end stays the end for later calls
        else:
            self.lines.append(line)
        return line
