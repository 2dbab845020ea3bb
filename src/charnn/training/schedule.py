"""The learning-rate schedule: a pure function of the step, the clock and the config."""

from __future__ import annotations

import math

from charnn.config import TrainConfig


def lr_at(
    step: int, elapsed_s: float, config: TrainConfig, *, epoch_steps: int | None = None
) -> float:
    """Learning rate for `step`: linear warmup, then cosine decay (or constant).

    The decay follows whichever limit is closer to done, max_steps, max_time or max_epochs
    (`epoch_steps`: train.max_epochs in steps), so a run with a time budget ends its decay
    when the time runs out. Early stopping is not a limit: it cannot be foreseen.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = 0.0
    if config.max_steps is not None:
        progress = max(progress, step / config.max_steps)
    if config.max_time is not None:
        progress = max(progress, elapsed_s / config.max_time)
    if epoch_steps is not None:
        progress = max(progress, step / epoch_steps)
    progress = min(progress, 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
