"""Scoring a classifier, whatever it reads: its results, the metrics, and the ways a run's
own held-out split can be unavailable.

The rows to score come encoded (charnn.inference.batches): texts and sequences of numbers are
scored by the same `score_encoded`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from charnn.errors import CharnnError, key
from charnn.inference.batches import Encoded, classify_logits
from charnn.model.classifier import CharClassifier

logger = logging.getLogger(__name__)


def top_labels(
    logits: torch.Tensor, labels: Sequence[str], top_k: int
) -> list[list[tuple[str, float]]]:
    """Per text, its `top_k` likeliest labels with their probabilities, likeliest first."""
    probabilities = logits.float().softmax(dim=1)
    values, indices = probabilities.topk(min(top_k, len(labels)), dim=1)
    return [
        [(labels[index], value) for index, value in zip(row_i, row_v, strict=True)]
        for row_i, row_v in zip(indices.tolist(), values.tolist(), strict=True)
    ]


@dataclass
class ClassifyResult:
    """How well a classifier labels a set of examples."""

    loss: float
    """Mean cross-entropy (nats) over the examples whose label the model knows."""
    accuracy: float
    """Share of all examples labelled right (an example with an unknown label counts wrong)."""
    macro_f1: float
    """F1 averaged over the model's labels, each counting equally."""
    examples: int
    labels: list[str]
    per_class: dict[str, dict[str, float]]
    """Per label: precision, recall, f1 and support."""
    confusion: list[list[int]]
    """confusion[i][j]: examples of label i classified as label j."""
    seconds: float = 0.0
    unseen_labels: dict[str, int] = field(default_factory=dict)
    """Labels of the examples that the model never saw, with how many examples each."""
    baseline: dict[str, float] | None = None
    """The run's n-gram baseline on the same examples: `accuracy` and `macro_f1` (None: the run
    has none, as for sequences of numbers)."""
    network: dict[str, float] | None = None
    """With `model.ngram_mix`, the network alone: `accuracy` and `macro_f1`; the result's own
    figures are the combination's."""
    mix_weight: float | None = None
    """The baseline's weight in the combination (None: the network alone)."""

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "examples": self.examples,
            "per_class": self.per_class,
            "confusion": self.confusion,
            "labels": self.labels,
            "unseen_labels": self.unseen_labels,
            "seconds": self.seconds,
            "examples_per_s": self.examples_per_s,
            "baseline": self.baseline,
            "network": self.network,
            "mix_weight": self.mix_weight,
        }


def classify_metrics(
    predicted: Sequence[int], targets: Sequence[int], labels: Sequence[str]
) -> tuple[float, float, dict[str, dict[str, float]], list[list[int]]]:
    """(accuracy, macro-F1, per-class scores, confusion) of predictions against targets;
    a target of -1 (a label the model does not know) is always wrong."""
    classes = len(labels)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    pred, true = np.asarray(predicted, dtype=np.int64), np.asarray(targets, dtype=np.int64)
    known = true >= 0
    np.add.at(confusion, (true[known], pred[known]), 1)
    correct = np.diag(confusion)
    support = confusion.sum(1)
    chosen = np.bincount(pred, minlength=classes)  # unknown-label examples count as chosen
    precision = np.divide(correct, chosen, out=np.zeros(classes), where=chosen > 0)
    recall = np.divide(correct, support, out=np.zeros(classes), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(classes), where=total > 0)
    per_class = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    accuracy = float(correct.sum() / len(true)) if len(true) else math.nan
    return accuracy, float(f1.mean()), per_class, confusion.tolist()


MIX_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
"""The baseline weights `model.ngram_mix` chooses from."""


def mixed(logits: torch.Tensor, baseline: np.ndarray | None, weight: float | None) -> torch.Tensor:
    """The network's log-probabilities plus `weight` times the baseline's (N, C) log
    posteriors, as log-probabilities again; the network's logits alone without a weight."""
    if baseline is None or weight is None:
        return logits
    combined = logits.float().log_softmax(1) + weight * torch.from_numpy(baseline).float()
    return combined.log_softmax(1)


def choose_weight(logits: torch.Tensor, baseline: np.ndarray, truth: Sequence[int]) -> float:
    """The weight of MIX_WEIGHTS whose combination labels these examples best (ties: the
    lower loss, then the smaller weight)."""
    targets = torch.tensor(list(truth), dtype=torch.long)
    known = targets >= 0

    def quality(weight: float) -> tuple[float, float]:
        combined = mixed(logits, baseline, weight)
        accuracy = float((combined.argmax(1) == targets).float().mean())
        loss = float(F.cross_entropy(combined[known], targets[known])) if known.any() else 0.0
        return accuracy, -loss

    return max(MIX_WEIGHTS, key=quality)


def score_encoded(
    model: CharClassifier,
    encoded: Encoded,
    labels: Sequence[str],
    truth: Sequence[str],
    *,
    what: str = "the examples",
    progress: bool = False,
    started: float | None = None,
    baseline: np.ndarray | None = None,
    mix_weight: float | None = None,
    logits: torch.Tensor | None = None,
) -> ClassifyResult:
    """Loss, accuracy, macro-F1, per-class scores and confusion of `model` on the encoded rows,
    whose labels are `truth`; `started`: when the work began (perf_counter), for the rate.
    `baseline`: the n-gram baseline's (N, C) log posteriors of the same rows, scored beside the
    model, and with `mix_weight` combined with it (see `mixed`). `logits`: the model's, when
    the caller has them already."""
    started = time.perf_counter() if started is None else started
    network = classify_logits(model, encoded, progress=progress) if logits is None else logits
    combined = mixed(network, baseline, mix_weight)
    index = {label: i for i, label in enumerate(labels)}
    targets = torch.tensor([index.get(label, -1) for label in truth], dtype=torch.long)
    known = targets >= 0
    loss = (
        float(F.cross_entropy(combined[known], targets[known]).item())
        if bool(known.any())
        else math.nan
    )
    accuracy, macro_f1, per_class, confusion = classify_metrics(
        combined.argmax(1).tolist(), targets.tolist(), labels
    )
    unseen = {label: count for label, count in sorted(Counter(truth).items()) if label not in index}
    if unseen:
        logger.warning(
            "%s has labels the model never saw, scored as wrong: %s",
            what,
            ", ".join(f"{label!r} ({count} example(s))" for label, count in unseen.items()),
        )
    return ClassifyResult(
        loss=loss,
        accuracy=accuracy,
        macro_f1=macro_f1,
        examples=len(truth),
        labels=list(labels),
        per_class=per_class,
        confusion=confusion,
        seconds=time.perf_counter() - started,
        unseen_labels=unseen,
        baseline=None if baseline is None else _summary(baseline.argmax(1), targets, labels),
        network=(
            None
            if baseline is None or mix_weight is None
            else _summary(network.argmax(1).numpy(), targets, labels)
        ),
        mix_weight=mix_weight if baseline is not None else None,
    )


def _summary(predicted: np.ndarray, targets: torch.Tensor, labels: Sequence[str]) -> dict:
    accuracy, macro_f1, _, _ = classify_metrics(predicted.tolist(), targets.tolist(), labels)
    return {"accuracy": accuracy, "macro_f1": macro_f1}


NO_TEST_SPLIT = (
    "this run has no test split (data.test_fraction is 0 and no data.test_path); score the val "
    f"split, give {key('file', 'PATH')}, or train with {key('data.test_fraction', 0.1)}"
)


def changed_data(name: str, split: str) -> str:
    return (
        f"the examples in {name} have changed since this run trained on them; its {split} "
        f"split is not the one the run held out; score a labelled file with "
        f"{key('file', 'PATH')} instead"
    )


def check_top_k(top_k: int) -> None:
    if top_k < 1:
        raise CharnnError(f"{key('top_k')} must be at least 1; got {top_k}")
