"""Units of a character model's loss, and the run's metrics.jsonl file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

METRIC_KEYS = ("step", "loss", "val_loss", "lr", "grad_norm", "chars_per_s", "elapsed_s")


def bits_per_char(loss_nats: float) -> float:
    return loss_nats / math.log(2)


def perplexity(loss_nats: float) -> float:
    # Past ~709 nats exp() overflows a float; such a model is broken anyway.
    return math.exp(loss_nats) if loss_nats < 700 else math.inf


class MetricsLog:
    """Appends one JSON object per line: one per logged training step and one per evaluation.

    Every record has all of METRIC_KEYS (null where a value does not apply) and an `event` of
    `train` or `eval`, so the file loads straight into a table. Lines are flushed as written,
    so a crash loses at most the line being written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, event: str, **values: Any) -> None:
        unknown = set(values) - set(METRIC_KEYS)
        if unknown:
            raise ValueError(f"unknown metric(s): {sorted(unknown)}")
        record = {"event": event, **{key: _finite_or_none(values.get(key)) for key in METRIC_KEYS}}
        line = json.dumps(record, allow_nan=False)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN or infinity; a diverged loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
