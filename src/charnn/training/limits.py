"""When a run stops: train.max_steps, max_time and max_epochs, and what changing them means.

`Limits` turns the limits into steps where it can (an epoch limit is a step count once the task
knows an epoch's length), says which limit a run has reached, and speaks for them: a warmup
longer than the run, a resumed run that had already finished, and a resumed run whose limits
changed (its learning rate then decays on from where it was, rather than jumping).
"""

from __future__ import annotations

import logging

from charnn.config import TrainConfig
from charnn.training.schedule import Restart, lr_at
from charnn.training.state import TrainState

logger = logging.getLogger(__name__)

STOP_REASONS = ("", "max_steps", "max_time", "max_epochs", "early_stopping", "pruned")
"""Why a run stops ("": it goes on); the index travels between ranks as a number. `pruned`:
the caller's evaluation hook said to stop (charnn tune's pruner)."""


class Limits:
    def __init__(self, train: TrainConfig, *, steps_per_epoch: int) -> None:
        self.train, self.steps_per_epoch = train, steps_per_epoch
        self.epoch_limit = self.epoch_steps(train.max_epochs)
        """train.max_epochs in steps (None: no epoch limit)."""

    def epoch_steps(self, epochs: float | None) -> int | None:
        """`epochs` in steps (None: no epoch limit)."""
        return None if epochs is None else max(1, round(epochs * self.steps_per_epoch))

    def step_limit(self) -> int | None:
        """The step the run ends at, when a step or epoch limit fixes it."""
        limits = [limit for limit in (self.train.max_steps, self.epoch_limit) if limit is not None]
        return min(limits) if limits else None

    def reached(self, state: TrainState) -> str:
        """The limit `state` has reached (one of STOP_REASONS; "": none)."""
        train = self.train
        if train.max_steps is not None and state.step >= train.max_steps:
            return "max_steps"
        if self.epoch_limit is not None and state.step >= self.epoch_limit:
            return "max_epochs"
        if train.max_time is not None and state.elapsed_s >= train.max_time:
            return "max_time"
        return ""

    def continue_the_decay(self, before: TrainConfig, state: TrainState) -> None:
        """A resumed run whose limits changed goes on decaying from the learning rate it had,
        rather than stretching the old cosine (which would jump it back up)."""
        train = self.train
        limits = ("max_steps", "max_time", "max_epochs")
        if all(getattr(before, name) == getattr(train, name) for name in limits):
            return
        if train.schedule != "cosine" or state.step < train.warmup_steps:
            return  # still warming up: the decay has not begun
        lr = lr_at(
            state.step,
            state.elapsed_s,
            before,
            epoch_steps=self.epoch_steps(before.max_epochs),
            restart=state.restart,
        )
        state.restart = Restart(step=state.step, elapsed_s=state.elapsed_s, lr=lr)
        logger.info(
            "the run's limits changed: the learning rate decays on from %.2e (step %d) to "
            "%.2e at the new limits",
            lr,
            state.step,
            train.lr * train.min_lr_ratio,
        )

    def log_if_finished(self, state: TrainState, *, stopped_early: bool, score_name: str) -> None:
        """A resumed run that has nothing left to do says so, and how to train it further."""
        limit = self.reached(state)
        if state.step == 0 or not (limit or stopped_early):
            return
        if stopped_early:
            logger.info(
                "this run stopped early at step %d (%d evaluations without a better %s); to "
                "train it further, resume with a larger train.early_stopping_patience",
                state.step,
                state.evals_since_best,
                score_name,
            )
            return
        logger.info(
            "this run has already finished: step %d, train.%s reached; to train it further, "
            "resume with a larger train.%s (the learning rate goes on decaying from where it "
            "is: docs/training.md)",
            state.step,
            limit,
            limit,
        )

    def warn_short_warmup(self, step: int, *, ended: bool) -> None:
        """A run shorter than its warmup never reaches train.lr: say so, before it starts when
        a step limit shows it, or when it ends (a time limit)."""
        warmup, limit = self.train.warmup_steps, self.step_limit()
        if warmup <= 0 or step >= warmup:
            return
        if not ended and limit is not None and limit < warmup:
            logger.warning(
                "train.warmup_steps=%d is longer than this run (%d steps): the learning rate "
                "will never reach train.lr=%g; lower train.warmup_steps",
                warmup,
                limit,
                self.train.lr,
            )
        elif ended and (limit is None or limit >= warmup):  # a time limit cut it short
            logger.warning(
                "the run ended at step %d, inside its warmup (train.warmup_steps=%d): the "
                "learning rate never reached train.lr=%g; lower train.warmup_steps or give it "
                "more time",
                step,
                warmup,
                self.train.lr,
            )
