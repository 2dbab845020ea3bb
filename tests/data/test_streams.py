from __future__ import annotations

import string

import pytest
import torch

from charnn.data.streams import TrainStreams
from charnn.errors import DataError


def alphabet_streams(seq_len: int) -> TrainStreams:
    vocab_ids = torch.tensor([ord(c) for c in string.ascii_lowercase])
    return TrainStreams(vocab_ids, batch_size=4, seq_len=seq_len)


def rows(tensor: torch.Tensor) -> list[str]:
    return ["".join(chr(i) for i in row) for row in tensor.tolist()]


def test_streams_are_contiguous_rows_as_in_the_diagram() -> None:
    streams = alphabet_streams(seq_len=2)
    assert rows(streams.streams) == ["abcdef", "ghijkl", "mnopqr", "stuvwx"]
    inputs, targets, starts = streams.window(0)
    assert rows(inputs) == ["ab", "gh", "mn", "st"]
    assert rows(targets) == ["bc", "hi", "no", "tu"]
    assert starts
    inputs, targets, starts = streams.window(1)
    assert rows(inputs) == ["cd", "ij", "op", "uv"]
    assert rows(targets) == ["de", "jk", "pq", "vw"]
    assert not starts


def test_epochs_wrap_to_the_start_of_every_stream() -> None:
    streams = alphabet_streams(seq_len=2)
    assert streams.windows_per_epoch == 2  # (6 - 1) // 2
    for step in range(6):
        inputs, _, starts = streams.window(step)
        assert starts == (step % 2 == 0)
        assert torch.equal(inputs, streams.window(step % 2)[0])


def test_every_target_is_the_next_character_of_its_input() -> None:
    ids = torch.randint(0, 50, (10_000,))
    streams = TrainStreams(ids, batch_size=8, seq_len=33)
    for step in range(streams.windows_per_epoch):
        inputs, targets, _ = streams.window(step)
        assert inputs.shape == targets.shape == (8, 33)
        assert torch.equal(inputs[:, 1:], targets[:, :-1])


def test_too_short_for_one_batch_says_what_to_lower() -> None:
    with pytest.raises(
        DataError, match=r"4 x 8 = 32 are needed; lower train.batch_size or train.seq_len"
    ):
        TrainStreams(torch.arange(31), batch_size=4, seq_len=7)
    TrainStreams(torch.arange(32), batch_size=4, seq_len=7)  # exactly enough
