"""The learning-rate schedule: a pure function of the step, the clock and the config.

Linear warmup to `train.lr`, then a cosine decay to `lr * min_lr_ratio` that ends at whichever
limit (max_steps, max_time, max_epochs) is nearest to done.

A resumed run whose limits were raised (a finished run extended, say) does not stretch the old
cosine, which would jump the learning rate back up. The decay goes on from where it was: from
the resumed step's learning rate down to the floor at the new limits. That `Restart` is kept in
the checkpoints, so later sessions follow the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from charnn.config import TrainConfig


@dataclass(frozen=True)
class Restart:
    """Where a resumed run with new limits picked the decay up."""

    step: int
    elapsed_s: float
    lr: float

    def to_dict(self) -> dict[str, float]:
        return {"step": self.step, "elapsed_s": self.elapsed_s, "lr": self.lr}

    @classmethod
    def from_dict(cls, data: dict[str, float] | None) -> Restart | None:
        if not data:
            return None
        return cls(step=int(data["step"]), elapsed_s=float(data["elapsed_s"]), lr=float(data["lr"]))


def lr_at(
    step: int,
    elapsed_s: float,
    config: TrainConfig,
    *,
    epoch_steps: int | None = None,
    restart: Restart | None = None,
) -> float:
    """Learning rate for `step`: linear warmup, then cosine decay (or constant).

    The decay follows whichever limit is closer to done, max_steps, max_time or max_epochs
    (`epoch_steps`: train.max_epochs in steps), so a run with a time budget ends its decay
    when the time runs out. Early stopping is not a limit: it cannot be foreseen. After a
    `restart`, the decay runs from its learning rate to the floor over what is left.
    """
    if config.schedule == "constant":
        return config.lr if step >= config.warmup_steps else _warm(step, config)
    if restart is None and step < config.warmup_steps:
        return _warm(step, config)
    since_step, since_s = (restart.step, restart.elapsed_s) if restart else (0, 0.0)
    progress = 0.0
    if config.max_steps is not None:
        progress = max(progress, _fraction(step - since_step, config.max_steps - since_step))
    if config.max_time is not None:
        progress = max(progress, _fraction(elapsed_s - since_s, config.max_time - since_s))
    if epoch_steps is not None:
        progress = max(progress, _fraction(step - since_step, epoch_steps - since_step))
    progress = min(progress, 1.0)
    floor = config.lr * config.min_lr_ratio
    top = restart.lr if restart else config.lr
    return floor + (top - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _warm(step: int, config: TrainConfig) -> float:
    return config.lr * (step + 1) / config.warmup_steps


def _fraction(done: float, total: float) -> float:
    return done / total if total > 0 else 1.0
