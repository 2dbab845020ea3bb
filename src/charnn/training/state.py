"""What a training run carries from step to step, and what it reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from charnn.model.cells import Hidden
from charnn.training.schedule import Restart


@dataclass
class TrainState:
    """What changes from step to step, and what a resumed run needs to carry on."""

    step: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None
    """The validation loss of the best checkpoint (best by `best_score`)."""
    best_score: float | None = None
    """The best validation score so far (higher is better: -loss, or accuracy)."""
    evals_since_best: int = 0
    restart: Restart | None = None
    """Where the learning-rate decay was picked up after the limits changed on a resume."""
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
    """`max_steps`, `max_time`, `max_epochs` or `early_stopping`."""
    chars_per_s: float
    """Training characters (or examples) over the whole wall time, evaluations included."""
    unit: str = "chars"
    best_score: float | None = None
    """The best validation score (higher is better): -loss, or a classifier's accuracy."""
    score_name: str = "val loss"
    """What the score is: `val loss` or `val accuracy`."""
    baseline_score: float | None = None
    """A text classifier's n-gram baseline, scored as `best_score` is (val accuracy)."""
