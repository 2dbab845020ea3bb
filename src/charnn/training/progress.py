"""Progress on the console: a tqdm bar on a terminal, plain periodic lines everywhere else."""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

logger = logging.getLogger(__name__)


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to; 0 when it has none or reports none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):  # not a terminal, closed, or no file number
        return 0


class Progress:
    """One training run's progress display.

    On a terminal, a bar moves every step and shows the loss, lr and chars/s of the latest
    report. Elsewhere (CI, a log file, a pipe) there is no bar and each report is one log line;
    the trainer reports every `train.log_every` steps, so logs stay short.
    """

    def __init__(self, *, total_steps: int | None, initial_step: int, shown: bool = True) -> None:
        self.shown = shown
        """False in every process of a multi-process run but the first: it shows nothing."""
        # A terminal that reports no width (some pseudo-terminals: `script`, CI runners) gets
        # plain lines: tqdm draws nothing at width 0.
        self.interactive = shown and sys.stderr.isatty() and terminal_columns(sys.stderr) > 0
        self._bar = (
            tqdm(
                total=total_steps,
                initial=initial_step,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                leave=True,
            )
            if self.interactive
            else None
        )

    def step(self) -> None:
        """Called after every step: moves the bar (nothing without one)."""
        if self._bar is not None:
            self._bar.update(1)

    def report(
        self, line: str, *, loss: float, lr: float, per_s: float, unit: str = "chars"
    ) -> None:
        """Periodic figures: shown on the bar, or logged as `line` when there is no bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(f"loss {loss:.4f} lr {lr:.2e} {per_s:,.0f} {unit}/s")
        elif self.shown:
            logger.info(line)

    def note(self, line: str) -> None:
        """A line that always shows (evaluations, checkpoints), without breaking the bar."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        elif self.shown:
            logger.info(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
