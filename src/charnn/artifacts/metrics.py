"""Units of a character model's loss, and the run's metrics.jsonl file."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from charnn.artifacts.jsonl import JsonLines

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
    "baseline_val_accuracy",
    "baseline_val_macro_f1",
    "mix_weight",
    "elapsed_s",
    "skipped_steps",
)
"""`skipped_steps`: steps skipped so far in the run because their loss or gradient norm was not
finite (their optimizer update was not applied). `examples_per_s`, `val_accuracy` and
`val_macro_f1` are for `task: classify` (null for `task: lm`, as `chars_per_s` is there);
`baseline_val_*` for a classifier of texts (its n-gram baseline on the same validation
examples), and `mix_weight` for one with model.ngram_mix (the baseline's weight chosen)."""


def bits_per_char(loss_nats: float) -> float:
    return loss_nats / math.log(2)


def perplexity(loss_nats: float) -> float:
    # Past ~709 nats exp() overflows a float; such a model is broken anyway.
    return math.exp(loss_nats) if loss_nats < 700 else math.inf


class MetricsLog(JsonLines):
    """Appends one JSON object per line: one per logged training step and one per evaluation.

    Every record has all of METRIC_KEYS (null where a value does not apply) and an `event` of
    `train` or `eval`, so the file loads straight into a table.
    """

    def __init__(
        self, path: Path, *, mirrors: Sequence[Callable[[str, dict[str, Any]], None]] = ()
    ) -> None:
        super().__init__(path)
        self.mirrors = list(mirrors)
        """Also given every record written (TensorBoard, W&B, when asked for)."""

    def write(self, event: str, **values: Any) -> None:
        unknown = set(values) - set(METRIC_KEYS)
        if unknown:
            raise ValueError(f"unknown metric(s): {sorted(unknown)}")
        record = {"event": event, **{key: _finite_or_none(values.get(key)) for key in METRIC_KEYS}}
        self.append(record)
        for mirror in self.mirrors:
            mirror(event, record)


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN or infinity; a diverged loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
