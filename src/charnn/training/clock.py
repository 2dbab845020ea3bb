"""The run's clock: training time so far, a resumed run's included, and throughput windows
that leave evaluations out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Clock:
    """Elapsed time counts from the run's first session: a resumed run starts at the time its
    checkpoint recorded. Time spent in `paused()` (evaluations, checkpoints) counts toward
    elapsed time and `train.max_time`, but not toward `training_time`, which throughput
    windows read so that chars/s measures training alone."""

    def __init__(self, resumed_s: float = 0.0) -> None:
        self._zero = time.perf_counter() - resumed_s
        self._paused_s = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._zero

    def training_time(self) -> float:
        """A monotonic reading that stands still while paused (its zero means nothing)."""
        return time.perf_counter() - self._paused_s

    @contextmanager
    def paused(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._paused_s += time.perf_counter() - started
