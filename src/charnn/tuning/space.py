"""What `charnn tune` searches: one dimension per config key, chosen by task, each overridable
from the config's `tune:` section.

    tune:
      train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}   # a range (log: sampled log-uniform)
      model.hidden_size: [128, 256, 512]                 # choices
      model.num_layers: 2                                # fixed: not searched

Ranges of whole numbers are sampled as integers. A key the section does not name keeps its
default dimension below; any config key may be added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from charnn.config import known_keys
from charnn.errors import ConfigError


class Sampler(Protocol):
    """The part of an Optuna trial a dimension uses."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = ...) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = ...) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Dimension:
    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    fixed: Any = None

    def sample(self, trial: Sampler) -> Any:
        if self.choices:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.low is None or self.high is None:
            return self.fixed
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.key, self.low, self.high, log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)

    def describe(self) -> str:
        if self.choices:
            return " | ".join(str(choice) for choice in self.choices)
        if self.low is None:
            return f"{self.fixed} (fixed)"
        return f"{self.low} .. {self.high}{' (log)' if self.log else ''}"


COMMON = (
    Dimension("train.lr", 3e-4, 1e-2, log=True),
    Dimension("model.hidden_size", choices=(64, 128, 256, 384, 512)),
    Dimension("model.num_layers", 1, 3),
    Dimension("model.embedding_dim", choices=(16, 32, 64, 128)),
    Dimension("model.dropout", 0.0, 0.5),
    Dimension("train.weight_decay", choices=(0.0, 1e-4, 1e-3, 1e-2)),
    Dimension("train.batch_size", choices=(16, 32, 64, 128)),
)
BY_TASK = {
    "lm": (Dimension("train.seq_len", choices=(32, 64, 128, 256)),),
    "classify": (
        Dimension("model.pooling", choices=("last", "mean", "max")),
        Dimension("model.bidirectional", choices=(False, True)),
    ),
}


def search_space(task: str, section: Mapping[str, Any] | None = None) -> list[Dimension]:
    """The task's dimensions, with the `tune:` section's changes."""
    dimensions = {dimension.key: dimension for dimension in (*COMMON, *BY_TASK[task])}
    for key, value in (section or {}).items():
        dimensions[key] = _dimension(str(key), value)
    return list(dimensions.values())


def _dimension(key: str, value: Any) -> Dimension:
    if key not in known_keys() or key in ("out_dir", "task"):
        raise ConfigError(
            f"tune.{key} is not a config key charnn tune can search; see charnn config keys"
        )
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"tune.{key} lists no choices; give at least one")
        return Dimension(key, choices=tuple(value))
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(value):
            raise ConfigError(
                f"tune.{key} must be a list of choices, a value, or {{low: A, high: B, log: "
                f"true|false}}; got {dict(value)}"
            )
        low, high = value["low"], value["high"]
        if not all(isinstance(bound, int | float) for bound in (low, high)) or low >= high:
            raise ConfigError(f"tune.{key} needs numbers with low < high; got {low} and {high}")
        log = bool(value.get("log", False))
        if log and low <= 0:
            raise ConfigError(f"tune.{key} with log: true needs low > 0; got {low}")
        return Dimension(key, low, high, log=log)
    return Dimension(key, fixed=value)
