from __future__ import annotations

from typing import Any

import pytest

from charnn.errors import ConfigError
from charnn.tuning.space import search_space


class Recorder:
    """Stands in for an Optuna trial: takes the low end, or the first choice."""

    def __init__(self) -> None:
        self.asked: dict[str, tuple[str, Any]] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.asked[name] = ("float", (low, high, log))
        return low

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        self.asked[name] = ("int", (low, high, log))
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.asked[name] = ("choice", tuple(choices))
        return choices[0]


def test_each_task_has_its_own_dimensions() -> None:
    lm = {dimension.key for dimension in search_space("lm")}
    classify = {dimension.key for dimension in search_space("classify")}
    assert {"train.lr", "model.hidden_size", "model.dropout", "train.seq_len"} <= lm
    assert {"model.pooling", "model.bidirectional"} <= classify and "train.seq_len" not in classify


def test_the_tune_section_sets_ranges_choices_and_fixed_values() -> None:
    section = {
        "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
        "model.num_layers": {"low": 1, "high": 4},
        "model.hidden_size": [32, 64],
        "model.dropout": 0.1,
    }
    trial = Recorder()
    values = {d.key: d.sample(trial) for d in search_space("lm", section)}
    assert trial.asked["train.lr"] == ("float", (1e-4, 1e-2, True))
    assert trial.asked["model.num_layers"] == ("int", (1, 4, False))  # whole numbers: integers
    assert trial.asked["model.hidden_size"] == ("choice", (32, 64))
    assert "model.dropout" not in trial.asked and values["model.dropout"] == 0.1  # fixed


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"model.colour": [1, 2]}, "tune.model.colour is not a config key"),
        ({"out_dir": ["a", "b"]}, "tune.out_dir is not a config key charnn tune can search"),
        ({"train.lr": []}, "lists no choices"),
        ({"train.lr": {"low": 1}}, r"must be a list of choices, a value, or \{low"),
        ({"train.lr": {"low": 2, "high": 1}}, "needs numbers with low < high"),
        ({"train.lr": {"low": 0, "high": 1, "log": True}}, "log: true needs low > 0"),
    ],
)
def test_a_bad_tune_section_is_one_error_naming_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        search_space("lm", section)
