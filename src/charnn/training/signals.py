"""What can stop a training run from outside: signals, and running out of memory."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from charnn.config import RunConfig
from charnn.errors import CharnnError, TrainingInterrupted, key


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Turn Ctrl-C and SIGTERM into a flag (the list fills) that the loop checks between steps.

    Stopping between steps, never inside one, means the saved model and optimizer state always
    belong to the same step. A second Ctrl-C stops at once, the classic way.
    """
    received: list[int] = []

    def handler(signal_number: int, frame: object) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signal_number)

    previous = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def interrupted(signal_number: int, step: int, saved: Path) -> TrainingInterrupted:
    name = signal.Signals(signal_number).name
    return TrainingInterrupted(
        f"stopped by {name} at step {step}; saved {saved}; "
        f"continue with {key('resume', True)} {key('out_dir', saved.parent)}",
        signal_number=signal_number,
    )


@contextmanager
def out_of_memory_is_a_user_error(config: RunConfig, device: torch.device) -> Iterator[None]:
    """An allocation failure becomes a message that says which settings to lower.

    The checkpoints already on disk are left as they are.
    """
    out_of_memory = False
    try:
        yield
    except torch.OutOfMemoryError:
        out_of_memory = True
    except RuntimeError as error:
        if "can't allocate memory" not in str(error):  # the CPU allocator's wording
            raise
        out_of_memory = True
    if out_of_memory:  # raised here, outside `except`, so no tensors stay alive in a traceback
        raise CharnnError(
            f"out of memory on {device} with train.batch_size={config.train.batch_size}, "
            f"train.seq_len={config.train.seq_len}, model.hidden_size={config.model.hidden_size}; "
            "lower train.batch_size first (then seq_len or hidden_size)"
        )
