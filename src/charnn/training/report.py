"""What a run says as it trains: every `train.log_every` steps one line (a progress bar on a
terminal) and one metrics.jsonl record with the window's mean loss, gradient norm and speed; a
line and a record for each evaluation; and a warning for each skipped step."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from charnn.artifacts.metrics import MetricsLog, bits_per_char
from charnn.training.clock import Clock
from charnn.training.progress import Progress
from charnn.training.state import TrainState
from charnn.training.step import StepResult

logger = logging.getLogger(__name__)


@dataclass
class _Window:
    """Running sums between two reports."""

    started: float
    """The clock's training time when the window opened."""
    loss_sum: torch.Tensor | None = None
    """Sum of the losses of the applied steps."""
    grad_norm: torch.Tensor | None = None
    steps: int = 0
    applied_steps: int = 0
    units: int = 0


class Reporter:
    def __init__(
        self,
        metrics: MetricsLog,
        progress: Progress,
        clock: Clock,
        *,
        log_every: int,
        unit: str,
        speaks: bool,
    ) -> None:
        """`speaks`: whether this process writes (rank 0); the others only keep the sums, so
        that every rank's host syncs stay in step."""
        self._metrics, self._progress, self._clock = metrics, progress, clock
        self._log_every, self._unit, self._speaks = log_every, unit, speaks
        self._window = _Window(started=clock.training_time())

    def count(self, state: TrainState, result: StepResult, *, units: int) -> None:
        """Add one step (already counted in `state`) to the window; warn when it was skipped."""
        window = self._window
        window.steps += 1
        window.units += units
        window.grad_norm = result.grad_norm
        if result.applied:
            window.applied_steps += 1
            previous = window.loss_sum
            window.loss_sum = result.loss if previous is None else previous + result.loss
            return
        logger.warning(
            "step %d skipped: loss %s, gradient norm %s (%d in a row)",
            state.step,
            f"{result.loss.item():.4g}",
            f"{result.grad_norm.item():.4g}",
            state.consecutive_skips,
        )

    def tick(self, state: TrainState, lr: float) -> None:
        """After each step: report every `log_every` steps, and move the progress bar."""
        if state.step % self._log_every == 0:
            self.report(state, lr)
        self._progress.step()

    def report(self, state: TrainState, lr: float) -> None:
        """Report the open window, if it holds a step, and open the next."""
        window = self._window
        if not window.steps:
            return
        assert window.grad_norm is not None
        # Host sync, once per report. A window of skipped steps only has no loss to show.
        loss = (
            window.loss_sum.item() / window.applied_steps
            if window.loss_sum is not None
            else math.nan
        )
        grad_norm = window.grad_norm.item()
        seconds = self._clock.training_time() - window.started
        speed = window.units / seconds if seconds > 0 else 0.0
        elapsed_s = self._clock.elapsed()
        self._window = _Window(started=self._clock.training_time())
        if not self._speaks:
            return
        self._metrics.write(
            "train",
            step=state.step,
            loss=loss,
            lr=lr,
            grad_norm=grad_norm,
            **{f"{self._unit}_per_s": speed},
            elapsed_s=elapsed_s,
            skipped_steps=state.skipped_steps,
        )
        skipped = f" | {state.skipped_steps} skipped" if state.skipped_steps else ""
        self._progress.report(
            f"step {state.step} | loss {loss:.4f} | lr {lr:.2e} | grad norm {grad_norm:.2f} | "
            f"{speed:,.0f} {self._unit}/s | {elapsed_s:.0f}s{skipped}",
            loss=loss,
            lr=lr,
            per_s=speed,
            unit=self._unit,
        )

    def sampled(self, step: int, text: str) -> None:
        """A sample made while training, shown between progress lines (the bar stays whole)."""
        if self._speaks:
            self._progress.note(f"step {step} sample:\n{text}\n")

    def evaluated(
        self,
        state: TrainState,
        val_loss: float,
        *,
        seconds: float,
        improved: bool,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """An evaluation's record and line; `metrics`: the task's others (val_accuracy, ...)."""
        if not self._speaks:
            return
        metrics = metrics or {}
        self._metrics.write(
            "eval",
            step=state.step,
            val_loss=val_loss,
            elapsed_s=state.elapsed_s,
            skipped_steps=state.skipped_steps,
            **metrics,
        )
        if "val_accuracy" in metrics:
            scores = (
                f"val loss {val_loss:.4f}, accuracy {metrics['val_accuracy']:.4f}, "
                f"macro-F1 {metrics.get('val_macro_f1', math.nan):.4f}"
            )
            if "mix_weight" in metrics:
                scores += f" (with the n-gram baseline at weight {metrics['mix_weight']:g})"
            if "baseline_val_accuracy" in metrics:
                scores += f"; n-gram baseline accuracy {metrics['baseline_val_accuracy']:.4f}"
        else:
            scores = f"val loss {val_loss:.4f} ({bits_per_char(val_loss):.3f} bpc)"
        self._progress.note(
            f"step {state.step}: {scores}{', best so far' if improved else ''} [{seconds:.1f}s]"
        )
