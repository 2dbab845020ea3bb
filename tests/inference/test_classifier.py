from __future__ import annotations

import math

import pytest
import torch

from charnn.config import ModelConfig
from charnn.data.labelled import Example
from charnn.data.vocab import CharVocab
from charnn.inference.classifier import predict, score_examples
from charnn.model.classifier import CharClassifier

VOCAB = CharVocab("abcé")


def model() -> CharClassifier:
    torch.manual_seed(0)
    config = ModelConfig(cell="gru", hidden_size=8, num_layers=1, embedding_dim=4)
    return CharClassifier(config, vocab_size=len(VOCAB), num_classes=2).eval()


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
