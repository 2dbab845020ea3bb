"""The run's clock: resumed time counts, and paused time leaves throughput windows."""

from __future__ import annotations

import time

import pytest

from charnn.training.clock import Clock


def test_a_resumed_clock_starts_at_the_recorded_time() -> None:
    clock = Clock(resumed_s=100.0)
    assert 100.0 <= clock.elapsed() < 101.0


def test_paused_time_counts_as_elapsed_but_not_as_training() -> None:
    clock = Clock()
    training_before, elapsed_before = clock.training_time(), clock.elapsed()
    with clock.paused():
        time.sleep(0.2)
    assert clock.elapsed() - elapsed_before >= 0.2
    assert clock.training_time() - training_before == pytest.approx(0.0, abs=0.05)
