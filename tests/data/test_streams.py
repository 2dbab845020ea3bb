from __future__ import annotations

import string

import pytest
import torch

from charnn.data.streams import TrainStreams, encode_corpus, split_ids
from charnn.errors import DataError


def test_validation_is_the_tail_and_test_sits_before_it() -> None:
    ids = torch.arange(100)
    splits = split_ids(ids, val_fraction=0.1, test_fraction=0.2)
    assert splits.train.tolist() == list(range(70))
    assert splits.test.tolist() == list(range(70, 90))
    assert splits.val.tolist() == list(range(90, 100))


def test_validation_does_not_move_when_a_test_split_is_added() -> None:
    ids = torch.arange(1000)
    without = split_ids(ids, val_fraction=0.1, test_fraction=0.0)
    with_test = split_ids(ids, val_fraction=0.1, test_fraction=0.05)
    assert torch.equal(without.val, with_test.val)
    assert len(without.test) == 0


def test_too_short_for_a_split() -> None:
    with pytest.raises(DataError, match="too few for a validation split"):
        split_ids(torch.arange(10), val_fraction=0.1, test_fraction=0.0)
    with pytest.raises(DataError, match="too few for a test split"):
        split_ids(torch.arange(30), val_fraction=0.5, test_fraction=0.01)


def test_encode_corpus_covers_characters_seen_only_in_validation() -> None:
    text = "a" * 90 + "z" * 10
    vocab, splits = encode_corpus(text, val_fraction=0.1, test_fraction=0.0)
    assert "z" in vocab
    assert vocab.decode(splits.val) == "z" * 10


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
