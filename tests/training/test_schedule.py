from __future__ import annotations

import itertools
import math

import pytest

from charnn.config import TrainConfig
from charnn.training.schedule import lr_at


def test_lr_warms_up_linearly_then_decays_by_cosine() -> None:
    config = TrainConfig(lr=1.0, warmup_steps=10, max_steps=110, min_lr_ratio=0.1)
    assert lr_at(0, 0.0, config) == pytest.approx(0.1)
    assert lr_at(9, 0.0, config) == pytest.approx(1.0)
    assert lr_at(10, 0.0, config) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 10 / 110))
    )
    assert lr_at(55, 0.0, config) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert lr_at(110, 0.0, config) == pytest.approx(0.1)
    values = [lr_at(step, 0.0, config) for step in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_a_time_budget_drives_the_decay() -> None:
    config = TrainConfig(lr=1.0, warmup_steps=0, max_steps=None, max_time=100.0, min_lr_ratio=0.0)
    assert lr_at(5, 0.0, config) == pytest.approx(1.0)
    assert lr_at(5, 50.0, config) == pytest.approx(0.5)
    assert lr_at(5, 100.0, config) == pytest.approx(0.0)
    assert lr_at(5, 250.0, config) == pytest.approx(0.0)  # past the budget: stays at the floor
    both = TrainConfig(lr=1.0, warmup_steps=0, max_steps=10, max_time=100.0, min_lr_ratio=0.0)
    assert lr_at(5, 10.0, both) == pytest.approx(0.5)  # whichever limit is closer to done


def test_constant_schedule() -> None:
    config = TrainConfig(lr=0.3, warmup_steps=2, schedule="constant")
    assert [lr_at(step, 0.0, config) for step in range(4)] == pytest.approx([0.15, 0.3, 0.3, 0.3])
