"""Classifying texts with a trained CharClassifier, and scoring it on labelled examples.

Texts are encoded all at once with NumPy (no Python work per character), sorted by length so
that each batch pads little, and run through the model in batches without gradients.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import Checkpoint
from charnn.data.labelled import (
    Example,
    label_counts,
    prepare_examples,
    read_examples,
    truncated,
)
from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, DataError, key
from charnn.inference.evaluator import EVAL_DECODING_FIX
from charnn.inference.options import EvalOptions
from charnn.inference.progress import scoring_bar
from charnn.model.classifier import CharClassifier

logger = logging.getLogger(__name__)

PREDICT_BATCH = 256
"""Texts per batch when classifying: large enough that the matrix products dominate."""


def encode_texts(
    vocab: CharVocab,
    texts: Sequence[str],
    *,
    unknown_chars: str = "drop",
    replace_with: str = " ",
    what: str = "the texts",
) -> tuple[np.ndarray, np.ndarray]:
    """(ids of every text one after another, int64; each text's length after `unknown_chars`)."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    joined = "".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    known = np.frombuffer(vocab.chars.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    order = np.argsort(known)
    sorted_known = known[order]
    where = np.searchsorted(sorted_known, codes).clip(max=len(known) - 1)
    found = sorted_known[where] == codes
    ids = order[where].astype(np.int64)
    if not found.all():
        unknown = "".join(dict.fromkeys(joined[i] for i in np.flatnonzero(~found)[:10_000]))
        # The vocabulary's own policy check: refuses (naming them), or logs what it does.
        vocab.fit(unknown, policy=unknown_chars, replacement=replace_with, what=what)
        if unknown_chars == "replace":
            ids[~found] = vocab.encode(replace_with)[0].item()
        else:  # drop
            owner = np.repeat(np.arange(len(texts)), lengths)
            lengths = lengths - np.bincount(owner[~found], minlength=len(texts))
            ids = ids[found]
    return ids, lengths


@torch.no_grad()
def classify_logits(
    model: CharClassifier,
    ids: np.ndarray,
    lengths: np.ndarray,
    *,
    batch_size: int = PREDICT_BATCH,
    progress: bool = False,
) -> torch.Tensor:
    """Logits (N, classes) of the N texts whose ids `encode_texts` gave, in their order;
    `progress`: a bar on a terminal when it takes a while."""
    device = model.head.weight.device
    was_training = model.training
    model.eval()
    starts = text_starts(lengths)
    order = np.argsort(lengths, kind="stable")
    logits = torch.empty(len(lengths), model.num_classes)
    flat = torch.from_numpy(ids)
    try:
        with scoring_bar(len(lengths), unit="example", shown=progress) as bar:
            for first in range(0, len(order), batch_size):
                rows = order[first : first + batch_size]
                batch = pad_rows(flat, starts[rows], lengths[rows])
                logits[torch.from_numpy(rows)] = (
                    model(batch.to(device), torch.from_numpy(lengths[rows]).to(device))
                    .float()
                    .cpu()
                )
                bar.update(len(rows))
    finally:
        model.train(was_training)
    return logits


def text_starts(lengths: np.ndarray) -> np.ndarray:
    """Where each text begins in the ids `encode_texts` gives (one after another)."""
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def pad_rows(flat: torch.Tensor, starts: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
    """(B, longest) ids: row b is flat[starts[b] : starts[b] + lengths[b]], padded with id 0."""
    width = max(1, int(lengths.max()) if len(lengths) else 1)
    offsets = np.arange(width)
    index = starts[:, None] + offsets[None, :]
    real = offsets[None, :] < lengths[:, None]
    index = np.where(real, index, 0)
    padded = (
        flat[torch.from_numpy(index)] if len(flat) else torch.zeros(index.shape, dtype=torch.long)
    )
    return padded.masked_fill(torch.from_numpy(~real), 0)


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


def score_examples(
    model: CharClassifier,
    vocab: CharVocab,
    labels: Sequence[str],
    examples: Sequence[Example],
    *,
    unknown_chars: str = "drop",
    replace_with: str = " ",
    what: str = "the examples",
    progress: bool = False,
) -> ClassifyResult:
    """Loss, accuracy, macro-F1, per-class scores and confusion of `model` on `examples`."""
    started = time.perf_counter()
    ids, lengths = encode_texts(
        vocab,
        [example.text for example in examples],
        unknown_chars=unknown_chars,
        replace_with=replace_with,
        what=what,
    )
    logits = classify_logits(model, ids, lengths, progress=progress)
    index = {label: i for i, label in enumerate(labels)}
    targets = torch.tensor([index.get(example.label, -1) for example in examples])
    known = targets >= 0
    loss = (
        float(F.cross_entropy(logits[known], targets[known]).item())
        if bool(known.any())
        else math.nan
    )
    accuracy, macro_f1, per_class, confusion = classify_metrics(
        logits.argmax(1).tolist(), targets.tolist(), labels
    )
    unseen = {
        label: count
        for label, count in sorted(label_counts(examples).items())
        if label not in index
    }
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
        examples=len(examples),
        labels=list(labels),
        per_class=per_class,
        confusion=confusion,
        seconds=time.perf_counter() - started,
        unseen_labels=unseen,
    )


def score_checkpoint(
    checkpoint: Checkpoint,
    model: CharClassifier,
    options: EvalOptions | None = None,
    *,
    text_file: Path | None = None,
    progress: bool = False,
) -> ClassifyResult:
    """Score a classify run on its own held-out split (`options.split`), or on any labelled
    file (`text_file`, whose characters the model never saw follow `options.unknown_chars`).

    The run's own splits drop unseen characters, as the evaluations during training did, so
    the numbers match its metrics.jsonl.
    """
    options = options or EvalOptions()
    labels = checkpoint.labels
    if text_file is not None:
        examples = read_examples(
            text_file,
            encoding=options.encoding,
            errors=options.errors,
            decoding_fix=EVAL_DECODING_FIX,
            what="labelled file",
        )
        return score_examples(
            model,
            checkpoint.vocab,
            labels,
            # The model was trained on texts cut to data.max_length.
            truncated(examples, checkpoint.config.data.max_length),
            unknown_chars=options.unknown_chars,
            replace_with=options.replace_with,
            what=f"labelled file {text_file}",
            progress=progress,
        )
    examples = held_out_examples(checkpoint, options.split)
    return score_examples(model, checkpoint.vocab, labels, examples, progress=progress)


def held_out_examples(checkpoint: Checkpoint, split: str) -> list[Example]:
    data = checkpoint.config.data
    if split == "test" and data.test_fraction == 0 and data.test_path is None:
        raise CharnnError(
            "this run has no test split (data.test_fraction is 0 and no data.test_path); score "
            f"the val split, give {key('text_file', 'PATH')}, or train with "
            f"{key('data.test_fraction', 0.1)}"
        )
    try:
        splits = prepare_examples(data, seed=checkpoint.config.train.seed)
    except DataError as error:
        raise DataError(
            f"{error.marked} (or score any labelled file with {key('text_file', 'PATH')})"
        ) from None
    if splits.sha256 != checkpoint.corpus.get("sha256"):
        raise DataError(
            f"the examples in {splits.name} have changed since this run trained on them; its "
            f"{split} split is not the one the run held out; score a labelled file with "
            f"{key('text_file', 'PATH')} instead"
        )
    return {"val": splits.val, "test": splits.test, "train": splits.train}[split]


def predict(
    model: CharClassifier,
    vocab: CharVocab,
    labels: Sequence[str],
    texts: Sequence[str],
    *,
    top_k: int = 1,
    unknown_chars: str = "error",
    replace_with: str = " ",
) -> list[list[tuple[str, float]]]:
    """Per text, its `top_k` likeliest labels with probabilities, likeliest first."""
    if top_k < 1:
        raise CharnnError(f"{key('top_k')} must be at least 1; got {top_k}")
    ids, lengths = encode_texts(
        vocab, texts, unknown_chars=unknown_chars, replace_with=replace_with, what="the input"
    )
    return top_labels(classify_logits(model, ids, lengths), labels, top_k)
