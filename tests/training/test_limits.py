"""A run's limits: epochs in steps, the step a run ends at, which limit a state has reached."""

from __future__ import annotations

import logging

import pytest

from charnn.config import TrainConfig
from charnn.training.limits import STOP_REASONS, Limits
from charnn.training.state import TrainState


def at(step: int, elapsed_s: float = 0.0) -> TrainState:
    state = TrainState()
    state.step, state.elapsed_s = step, elapsed_s
    return state


def test_an_epoch_limit_is_a_step_count_of_at_least_one() -> None:
    limits = Limits(TrainConfig(max_steps=None, max_epochs=2.5), steps_per_epoch=10)
    assert limits.epoch_limit == 25 == limits.step_limit()
    assert limits.epoch_steps(0.01) == 1 and limits.epoch_steps(None) is None


def test_the_first_limit_to_come_ends_the_run() -> None:
    limits = Limits(TrainConfig(max_steps=30, max_epochs=2, max_time=5.0), steps_per_epoch=10)
    assert limits.step_limit() == 20
    assert limits.reached(at(19)) == ""
    assert limits.reached(at(20)) == "max_epochs"
    assert limits.reached(at(30)) == "max_steps"  # both: the step limit is named first
    assert limits.reached(at(3, elapsed_s=5.0)) == "max_time"
    assert {"max_steps", "max_time", "max_epochs"} < set(STOP_REASONS)


def test_a_time_limit_alone_fixes_no_step() -> None:
    limits = Limits(TrainConfig(max_steps=None, max_time=60.0), steps_per_epoch=10)
    assert limits.step_limit() is None and limits.epoch_limit is None
    assert limits.reached(at(10**6, elapsed_s=59.9)) == ""


def test_changed_limits_continue_the_decay_from_the_current_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = TrainConfig(max_steps=100, warmup_steps=0)
    state = at(50)
    with caplog.at_level(logging.INFO, logger="charnn"):
        Limits(before, steps_per_epoch=10).continue_the_decay(before, state)
        assert state.restart is None and not caplog.text  # same limits: nothing to do
        Limits(TrainConfig(max_steps=200, warmup_steps=0), steps_per_epoch=10).continue_the_decay(
            before, state
        )
    assert state.restart is not None and state.restart.step == 50
    assert before.lr * before.min_lr_ratio < state.restart.lr < before.lr
    assert "the learning rate decays on from" in caplog.text
