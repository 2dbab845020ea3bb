"""The run's clock: resumed time counts, and paused time leaves throughput windows."""

from __future__ import annotations

import time

from charnn.training.clock import Clock


def test_a_resumed_clock_starts_at_the_recorded_time() -> None:
    clock = Clock(resumed_s=100.0)
    assert 100.0 <= clock.elapsed() < 101.0


def test_paused_time_counts_as_elapsed_but_not_as_training() -> None:
    clock = Clock()
    # Read so that the training window lies inside the elapsed one.
    elapsed_before, training_before = clock.elapsed(), clock.training_time()
    with clock.paused():
        time.sleep(0.2)
    training = clock.training_time() - training_before
    elapsed = clock.elapsed() - elapsed_before
    assert elapsed >= 0.2
    assert 0.0 <= training <= elapsed - 0.2  # the pause is all that is left out
