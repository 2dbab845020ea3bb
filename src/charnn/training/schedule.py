"""The learning-rate schedule: a pure function of the step, the clock and the config."""

from __future__ import annotations

import math

from charnn.config import TrainConfig


def lr_at(step: int, elapsed_s: float, config: TrainConfig) -> float:
    """Learning rate for `step`: linear warmup, then cosine decay (or constant).

    The decay follows whichever limit is closer to done, max_steps or max_time, so a run with
    a time budget ends its decay when the time runs out.
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
    progress = min(progress, 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
