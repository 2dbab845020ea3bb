"""The corpus entry point's splits: contiguous, validation last."""

from __future__ import annotations

import pytest
import torch

from charnn.data.corpus import encode_corpus, split_ids
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
