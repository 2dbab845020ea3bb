from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from charnn.training.signals import interrupted, stop_on_signals


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_becomes_a_flag_and_handlers_are_restored(number: int) -> None:
    before = signal.getsignal(number)
    with stop_on_signals() as received:
        assert received == []
        os.kill(os.getpid(), number)
        assert received == [number]
    assert signal.getsignal(number) is before


def test_a_second_ctrl_c_stops_at_once() -> None:
    with pytest.raises(KeyboardInterrupt), stop_on_signals():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)


def test_the_interruption_says_how_to_resume() -> None:
    error = interrupted(signal.SIGINT, 12, Path("runs/x/last.pt"))
    assert error.exit_code == 130
    assert str(error) == (
        "stopped by SIGINT at step 12; saved runs/x/last.pt; "
        "continue with resume=True out_dir=runs/x"
    )
    assert interrupted(signal.SIGTERM, 1, Path("r/last.pt")).exit_code == 143
