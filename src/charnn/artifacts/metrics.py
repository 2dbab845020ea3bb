"""Units of a character model's loss, and the run's metrics.jsonl file."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from charnn.platform.atomic import atomic_write

METRIC_KEYS = (
    "step",
    "loss",
    "val_loss",
    "lr",
    "grad_norm",
    "chars_per_s",
    "examples_per_s",
    "val_accuracy",
    "val_macro_f1",
    "elapsed_s",
    "skipped_steps",
)
"""`skipped_steps`: steps skipped so far in the run because their loss or gradient norm was not
finite (their optimizer update was not applied). `examples_per_s`, `val_accuracy` and
`val_macro_f1` are for `task: classify` (null for `task: lm`, as `chars_per_s` is there)."""


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

    def __init__(
        self, path: Path, *, mirror: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self.path = path
        self.mirror = mirror
        """Also given every record written (TensorBoard, when asked for)."""

    def write(self, event: str, **values: Any) -> None:
        unknown = set(values) - set(METRIC_KEYS)
        if unknown:
            raise ValueError(f"unknown metric(s): {sorted(unknown)}")
        record = {"event": event, **{key: _finite_or_none(values.get(key)) for key in METRIC_KEYS}}
        line = json.dumps(record, allow_nan=False)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
        if self.mirror is not None:
            self.mirror(event, record)

    def read(self) -> list[dict[str, Any]]:
        """Every whole record; a line torn by a crash mid-write is left out."""
        if not self.path.exists():
            return []
        records = []
        with self.path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
        return records

    def keep_until(self, step: int) -> None:
        """Drop records after `step`, and torn lines: a run resumed from its checkpoint at
        `step` repeats the steps after it, and the file should hold each step once."""
        if not self.path.exists():
            return
        kept = [record for record in self.read() if (record.get("step") or 0) <= step]
        with atomic_write(self.path) as file:
            file.writelines(json.dumps(record).encode() + b"\n" for record in kept)


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN or infinity; a diverged loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
