from __future__ import annotations

import math

import numpy as np
import pytest

from charnn.model.ngrams import NgramNaiveBayes, ngrams


def test_ngrams_of_each_order_with_the_ends_marked() -> None:
    assert ngrams("ab", (1, 2)) == [" ", "a", "b", " ", " a", "ab", "b "]


def test_the_posteriors_match_a_hand_count() -> None:
    """Two one-text classes, unigrams only in effect: P(g|c) = (count + a) / (total + a (V+1))
    with V the vocabulary of the training texts; a class's score sums over the text's n-grams."""
    model = NgramNaiveBayes.fit(["aa", "bb"], [0, 1], classes=2)
    model.alpha = 1.0
    posteriors = model.log_posteriors(["a"])
    assert posteriors.shape == (1, 2)
    assert math.isclose(float(np.logaddexp.reduce(posteriors[0])), 0.0, abs_tol=1e-12)
    assert posteriors[0, 0] > posteriors[0, 1]  # "a" was class 0's
    # By hand: the n-grams of " a " (orders 1-3): " ", "a", " ", " a", "a ", " a ".
    # Class 0's counts: " ":2, "a":2, " a":1, "aa":1, "a ":1, " aa":1, "aa ":1 (9 in all).
    vocab = len(model.vocabulary)
    total0 = 9 + (vocab + 1) * 1.0
    total1 = 9 + (vocab + 1) * 1.0
    grams0 = [2, 2, 2, 1, 1]  # " ", "a", " ", " a", "a " ; " a " unseen
    grams1 = [2, 0, 2, 0, 0]
    score0 = sum(math.log((c + 1) / total0) for c in grams0) + math.log(1 / total0)
    score1 = sum(math.log((c + 1) / total1) for c in grams1) + math.log(1 / total1)
    expected = score0 - np.logaddexp(score0, score1)
    assert posteriors[0, 0] == pytest.approx(expected)


def test_smoothing_is_chosen_on_held_out_texts_and_round_trips() -> None:
    texts = ["hund", "katze", "maus", "dog", "cat", "mouse"] * 5
    targets = [0, 0, 0, 1, 1, 1] * 5
    model = NgramNaiveBayes.fit(texts, targets, classes=2)
    alpha = model.choose_alpha(["hunde", "cats"], [0, 1])
    assert model.alpha == alpha
    again = NgramNaiveBayes.from_dict({**model.to_dict(), "weight": None})
    np.testing.assert_allclose(
        again.log_posteriors(["katzen", "dogs"]),
        model.log_posteriors(["katzen", "dogs"]),
        rtol=1e-5,
    )
    assert again.log_posteriors(["katzen", "dogs"]).argmax(1).tolist() == [0, 1]
