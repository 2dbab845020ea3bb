"""scripts/reporting.py: timing contenders in rounds, and reading their ratios."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def reporting() -> Iterator[ModuleType]:
    path = Path(__file__).resolve().parents[2] / "scripts" / "reporting.py"
    spec = importlib.util.spec_from_file_location("reporting", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reporting"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["reporting"]


def test_rounds_alternate_their_order_and_keep_every_speed(reporting: ModuleType) -> None:
    calls: list[str] = []

    def contender(name: str, speeds: list[float]) -> Callable[[], float]:
        def timed() -> float:
            calls.append(name)
            return speeds[calls.count(name) - 1]

        return timed

    rounds = reporting.in_rounds(
        {"a": contender("a", [1.0, 2.0, 3.0]), "b": contender("b", [4.0, 5.0, 6.0])}, 3
    )
    # Reversed every other round: neither side always runs first, or always after the other.
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert rounds.speeds == {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}


def test_a_ratio_is_the_median_of_the_rounds_ratios(
    reporting: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    rounds = reporting.Rounds({"new": [2.0, 4.0, 9.0], "old": [1.0, 4.0, 3.0]})
    assert rounds.ratios("new", "old") == [2.0, 1.0, 3.0]
    assert rounds.ratio("new", "old") == 2.0  # not median(new) / median(old) = 4 / 3
    assert rounds.median("new") == 4.0
    assert rounds.ratio_range("new", "old") == "1.00-3.00"
    rounds.log("2x256 train")  # every round's speed, for the reader of the log
    assert capsys.readouterr().err == "2x256 train: new 2 4 9\n2x256 train: old 1 4 3\n"
