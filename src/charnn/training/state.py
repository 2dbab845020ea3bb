"""What a training run carries from step to step, and what it reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from charnn.model.cells import Hidden


@dataclass
class TrainState:
    """What changes from step to step, and what a resumed run needs to carry on."""

    step: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None
    hidden: Hidden | None = None
    skipped_steps: int = 0
    consecutive_skips: int = 0


@dataclass
class TrainSummary:
    run_dir: Path
    steps: int
    elapsed_s: float
    best_val_loss: float | None
    last_val_loss: float | None
    stopped_by: str
    """`max_steps` or `max_time`."""
    chars_per_s: float
    """Training characters over the whole wall time, evaluations included."""
