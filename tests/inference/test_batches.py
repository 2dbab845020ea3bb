from __future__ import annotations

import numpy as np
import pytest
import torch

from charnn.config import ModelConfig
from charnn.data.sequences import Sequences
from charnn.data.vocab import CharVocab
from charnn.errors import DataError
from charnn.inference.batches import EncodedValues, classify_logits, encode_texts, pad_rows
from charnn.model.classifier import CharClassifier

VOCAB = CharVocab("abcé")


def model(**kwargs: int) -> CharClassifier:
    torch.manual_seed(0)
    config = ModelConfig(cell="gru", hidden_size=8, num_layers=1, embedding_dim=4)
    return CharClassifier(config, vocab_size=len(VOCAB), num_classes=2, **kwargs).eval()


def test_texts_are_encoded_all_at_once() -> None:
    encoded = encode_texts(VOCAB, ["abc", "", "éa"])
    assert encoded.flat.tolist() == [0, 1, 2, 3, 0] and encoded.lengths.tolist() == [3, 0, 2]
    assert pad_rows(encoded.flat, np.array([0, 3]), np.array([3, 2])).tolist() == [
        [0, 1, 2],
        [3, 0, 0],
    ]
    assert encoded.batch(np.array([2, 0])).tolist() == [[3, 0, 0], [0, 1, 2]]


def test_unseen_characters_follow_the_policy() -> None:
    with pytest.raises(DataError, match="'z'"):
        encode_texts(VOCAB, ["abz"], unknown_chars="error")
    dropped = encode_texts(VOCAB, ["azb", "zz"], unknown_chars="drop")
    assert dropped.flat.tolist() == [0, 1] and dropped.lengths.tolist() == [2, 0]
    replaced = encode_texts(VOCAB, ["azb"], unknown_chars="replace", replace_with="c")
    assert replaced.flat.tolist() == [0, 2, 1] and replaced.lengths.tolist() == [3]


def test_batched_logits_come_back_in_the_texts_order() -> None:
    net = model()
    texts = ["abcabc", "a", "éé", "cab"]
    together = classify_logits(net, encode_texts(VOCAB, texts), batch_size=2)
    for row, text in enumerate(texts):
        alone = classify_logits(net, encode_texts(VOCAB, [text]))
        torch.testing.assert_close(together[row], alone[0])


def test_values_stay_as_stored_and_batches_are_float_with_zero_padding() -> None:
    values = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    values[0, 2:] = 255  # padding may hold anything
    encoded = EncodedValues(Sequences(values, np.array([2, 3]), []))
    assert encoded.values.dtype == np.uint8  # the whole array is never converted
    batch = encoded.batch(np.array([0]))
    assert batch.dtype == torch.float32 and batch.shape == (1, 2, 3)  # cut to its longest
    both = encoded.batch(np.array([1, 0]))
    assert both.shape == (2, 3, 3)
    assert both[1, 2].tolist() == [0.0, 0.0, 0.0]  # row 0's padding, zeroed
    assert both[0].tolist() == values[1, :3].astype(np.float32).tolist()


def test_padding_values_never_change_a_sequences_logits() -> None:
    net = model(features=3)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 5, 3)).astype(np.float32)
    lengths = np.array([5, 2, 3])
    noisy = values.copy()
    for row, length in enumerate(lengths):
        noisy[row, length:] = np.nan  # what a file's padding might hold
    together = classify_logits(net, EncodedValues(Sequences(noisy, lengths, [])), batch_size=2)
    for row, length in enumerate(lengths):
        alone = Sequences(values[row : row + 1, :length], lengths[row : row + 1], [])
        torch.testing.assert_close(together[row], classify_logits(net, EncodedValues(alone))[0])
