"""What bench.py measures: the model sizes, batch shape, steps and rounds of a full run, and
of the seconds-long smoke run (`--quick`) the test suite makes."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Plan:
    sizes: tuple[tuple[int, int], ...]  # (layers, hidden)
    batch_size: int
    seq_len: int
    train_steps: dict[int, int]  # hidden size -> steps per timing
    train_repeats: int  # training timings: short, so more of them than `repeats`
    repeats: int
    gemm_shapes: tuple[tuple[int, int, int], ...]
    sample_length: int
    eval_chars: int


FULL = Plan(
    sizes=((2, 256), (2, 512)),
    batch_size=32,
    seq_len=64,
    # Short timings in many rounds: this machine's speed shifts by a quarter within seconds,
    # so the two sides of a ratio are best timed close together, and its median taken over
    # many rounds (with 5 rounds of twice these steps, reruns of the tanh RNN's charnn/minimal
    # at 2x256 gave medians from 0.905 to 1.01).
    train_steps={256: 60, 512: 20},
    train_repeats=9,
    repeats=3,
    gemm_shapes=((1024, 1024, 1024), (2048, 2048, 2048)),
    sample_length=400,
    eval_chars=100_000,
)
QUICK = Plan(
    sizes=((1, 32),),
    batch_size=4,
    seq_len=16,
    train_steps={32: 3},
    train_repeats=1,
    repeats=1,
    gemm_shapes=((128, 128, 128),),
    sample_length=10,
    eval_chars=2_000,
)
