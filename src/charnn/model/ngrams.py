"""The n-gram baseline every text classifier is measured against: multinomial naive Bayes over
character n-grams.

A text is read as its n-grams of each order (1 to 3 by default), with a space added at either
end so that beginnings and endings count. Per class, an n-gram's probability is its count in the
class's training texts plus `alpha`, over the class's total; an n-gram never seen in training
counts as `alpha` alone. A text's score for a class is the log prior plus the sum of its
n-grams' log probabilities, normalised into log posteriors. Fitting is counting: seconds for
thousands of texts, and no new dependency.

The fitted tables are plain data (a list of n-grams and tensors), so a checkpoint carries them
and every consumer of a run scores the baseline on the same examples as the network.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

ORDERS = (1, 2, 3)
MAX_NGRAMS = 200_000
"""The most frequent n-grams kept: bounds the checkpoint's size on a large training split."""
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0)
"""The smoothing the fit chooses from, by accuracy on the validation split."""


def ngrams(text: str, orders: Sequence[int] = ORDERS) -> list[str]:
    padded = f" {text} "
    return [padded[i : i + n] for n in orders for i in range(len(padded) - n + 1)]


class NgramNaiveBayes:
    def __init__(self, vocabulary: list[str], counts: np.ndarray, priors: np.ndarray) -> None:
        """`counts` (C, V): each class's count of each n-gram; `priors` (C,): its examples."""
        self.vocabulary = vocabulary
        self.index = {gram: i for i, gram in enumerate(vocabulary)}
        self.counts = counts.astype(np.float64)
        self.priors = priors.astype(np.float64)
        self.alpha = 1.0

    @classmethod
    def fit(cls, texts: Sequence[str], targets: Sequence[int], classes: int) -> NgramNaiveBayes:
        grams: Counter[str] = Counter()
        per_text = [Counter(ngrams(text)) for text in texts]
        for counted in per_text:
            grams.update(counted)
        vocabulary = [gram for gram, _ in grams.most_common(MAX_NGRAMS)]
        index = {gram: i for i, gram in enumerate(vocabulary)}
        counts = np.zeros((classes, len(vocabulary)))
        for counted, target in zip(per_text, targets, strict=True):
            for gram, count in counted.items():
                column = index.get(gram)
                if column is not None:
                    counts[target, column] += count
        priors = np.bincount(np.asarray(targets, dtype=np.int64), minlength=classes)
        return cls(vocabulary, counts, priors)

    def choose_alpha(self, texts: Sequence[str], targets: Sequence[int]) -> float:
        """Set `alpha` to the one of ALPHAS that labels `texts` best (ties: the larger)."""
        best = max(
            reversed(ALPHAS),
            key=lambda alpha: float(
                (
                    self.with_alpha(alpha).log_posteriors(texts).argmax(1) == np.asarray(targets)
                ).mean()
            ),
        )
        self.alpha = best
        return best

    def with_alpha(self, alpha: float) -> NgramNaiveBayes:
        copy = NgramNaiveBayes.__new__(NgramNaiveBayes)
        copy.vocabulary, copy.index = self.vocabulary, self.index
        copy.counts, copy.priors, copy.alpha = self.counts, self.priors, alpha
        return copy

    def log_posteriors(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C): log P(class | text) of each text."""
        smoothed = self.counts + self.alpha
        totals = smoothed.sum(1, keepdims=True) + self.alpha  # room for the unseen n-grams
        table = np.log(smoothed / totals)  # (C, V)
        unseen = np.log(self.alpha / totals[:, 0])  # (C,)
        prior = np.log(np.maximum(self.priors, 1) / max(self.priors.sum(), 1))
        scores = np.empty((len(texts), len(self.priors)))
        for row, text in enumerate(texts):
            columns = [self.index.get(gram, -1) for gram in ngrams(text)]
            known = np.asarray([column for column in columns if column >= 0], dtype=np.int64)
            scores[row] = prior + table[:, known].sum(1) + unseen * (len(columns) - len(known))
        return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "ngram-naive-bayes",
            "orders": list(ORDERS),
            "alpha": self.alpha,
            "ngrams": self.vocabulary,
            "counts": torch.from_numpy(self.counts.astype(np.float32)),
            "priors": torch.from_numpy(self.priors.astype(np.float32)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NgramNaiveBayes:
        model = cls(
            [str(gram) for gram in data["ngrams"]],  # other keys (weight, val) are the run's
            np.asarray(data["counts"], dtype=np.float64),
            np.asarray(data["priors"], dtype=np.float64),
        )
        model.alpha = float(data["alpha"])
        return model
