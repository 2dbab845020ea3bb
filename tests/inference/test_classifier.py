from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from charnn.config import ModelConfig
from charnn.data.labelled import Example
from charnn.data.vocab import CharVocab
from charnn.errors import DataError
from charnn.inference.classifier import (
    classify_logits,
    classify_metrics,
    encode_texts,
    pad_rows,
    predict,
    score_examples,
)
from charnn.model.classifier import CharClassifier

VOCAB = CharVocab("abcé")


def test_texts_are_encoded_all_at_once() -> None:
    ids, lengths = encode_texts(VOCAB, ["abc", "", "éa"])
    assert ids.tolist() == [0, 1, 2, 3, 0] and lengths.tolist() == [3, 0, 2]
    flat = torch.from_numpy(ids)
    assert pad_rows(flat, np.array([0, 3]), np.array([3, 2])).tolist() == [[0, 1, 2], [3, 0, 0]]


def test_unseen_characters_follow_the_policy() -> None:
    with pytest.raises(DataError, match="'z'"):
        encode_texts(VOCAB, ["abz"], unknown_chars="error")
    ids, lengths = encode_texts(VOCAB, ["azb", "zz"], unknown_chars="drop")
    assert ids.tolist() == [0, 1] and lengths.tolist() == [2, 0]
    ids, lengths = encode_texts(VOCAB, ["azb"], unknown_chars="replace", replace_with="c")
    assert ids.tolist() == [0, 2, 1] and lengths.tolist() == [3]


def test_metrics_match_a_hand_count() -> None:
    # true:      a a a b b c    (and one example of a label the model does not know)
    # predicted: a a b b c c    a
    accuracy, macro_f1, per_class, confusion = classify_metrics(
        [0, 0, 1, 1, 2, 2, 0], [0, 0, 0, 1, 1, 2, -1], ["a", "b", "c"]
    )
    assert confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert accuracy == pytest.approx(4 / 7)
    # a: precision 2/3 (the unknown one was called a), recall 2/3
    assert per_class["a"]["precision"] == pytest.approx(2 / 3)
    assert per_class["a"]["recall"] == pytest.approx(2 / 3)
    assert per_class["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert per_class["c"]["f1"] == pytest.approx(2 * 0.5 * 1 / 1.5)
    f1s = [per_class[label]["f1"] for label in "abc"]
    assert macro_f1 == pytest.approx(sum(f1s) / 3)


def model() -> CharClassifier:
    torch.manual_seed(0)
    config = ModelConfig(cell="gru", hidden_size=8, num_layers=1, embedding_dim=4)
    return CharClassifier(config, vocab_size=len(VOCAB), num_classes=2).eval()


def test_batched_logits_come_back_in_the_texts_order() -> None:
    net = model()
    texts = ["abcabc", "a", "éé", "cab"]
    ids, lengths = encode_texts(VOCAB, texts)
    together = classify_logits(net, ids, lengths, batch_size=2)
    for row, text in enumerate(texts):
        one_ids, one_lengths = encode_texts(VOCAB, [text])
        torch.testing.assert_close(together[row], classify_logits(net, one_ids, one_lengths)[0])


def test_predictions_rank_labels_by_probability() -> None:
    (ranked,) = predict(model(), VOCAB, ["x", "y"], ["abc"], top_k=5)
    assert [label for label, _ in ranked] in (["x", "y"], ["y", "x"])
    assert ranked[0][1] >= ranked[1][1] and sum(p for _, p in ranked) == pytest.approx(1.0)


def test_labels_the_model_never_saw_are_reported_and_scored_as_wrong() -> None:
    examples = [Example("abc", "x", "f:1"), Example("cab", "y", "f:2"), Example("a", "new", "f:3")]
    result = score_examples(model(), VOCAB, ["x", "y"], examples)
    assert result.unseen_labels == {"new": 1} and result.examples == 3
    assert result.accuracy <= 2 / 3 and math.isfinite(result.loss)
    assert set(result.to_dict()) >= {
        "loss",
        "accuracy",
        "macro_f1",
        "examples",
        "per_class",
        "confusion",
        "labels",
    }
