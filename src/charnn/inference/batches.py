"""A classifier's inputs, encoded once and cut into padded batches: texts or sequences of numbers.

Texts are encoded all at once with NumPy (no Python work per character) into one array of ids,
one text after another; sequences of numbers stay in the array (and dtype) they were read in.
Either way a batch is some rows, right-padded to the longest of them:

    EncodedTexts    ids    a b c d e f g      rows 0 and 2    a b c _
                    texts  [abc][d][efg]      ->               e f g _  (B, T) int64
    EncodedValues   values (N, T, F)          ->               (B, longest, F) float32

Training (charnn.training.classification) draws its batches from these, and `classify_logits`
runs a model over all rows, sorted by length so that each batch pads little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from charnn.data.sequences import Sequences
from charnn.data.vocab import CharVocab
from charnn.inference.progress import scoring_bar
from charnn.model.classifier import CharClassifier

PREDICT_BATCH = 256
"""Sequences per batch when classifying: large enough that the matrix products dominate."""


class Encoded(Protocol):
    lengths: np.ndarray
    """(N,) each row's real length."""

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """The model's input for `rows`, right-padded to the longest of them."""
        ...


class EncodedTexts:
    def __init__(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        self.lengths = lengths
        self.starts = text_starts(lengths)
        self.flat = torch.from_numpy(ids)

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """(B, longest) int64 ids, padded with id 0."""
        return pad_rows(self.flat, self.starts[rows], self.lengths[rows])


class EncodedValues:
    def __init__(self, sequences: Sequences) -> None:
        self.values = sequences.values
        self.lengths = sequences.lengths

    def batch(self, rows: np.ndarray) -> torch.Tensor:
        """(B, longest, F) float32, zero past each row's length (whatever the file held)."""
        lengths = self.lengths[rows]
        width = int(lengths.max()) if len(lengths) else 1
        values = torch.from_numpy(self.values[rows, :width]).float()  # one batch converted
        padding = torch.from_numpy(np.arange(width)[None, :] >= lengths[:, None])  # (B, T)
        return values.masked_fill_(padding.unsqueeze(2), 0.0)


def encode_texts(
    vocab: CharVocab,
    texts: Sequence[str],
    *,
    unknown_chars: str = "drop",
    replace_with: str = " ",
    what: str = "the texts",
) -> EncodedTexts:
    """The texts as ids, after `unknown_chars` refused, dropped or replaced unseen characters."""
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
    return EncodedTexts(ids, lengths)


@torch.no_grad()
def classify_logits(
    model: CharClassifier,
    encoded: Encoded,
    *,
    batch_size: int = PREDICT_BATCH,
    progress: bool = False,
) -> torch.Tensor:
    """Logits (N, classes) of the N encoded rows, in their order; `progress`: a bar on a
    terminal when it takes a while."""
    device = model.head.weight.device
    was_training = model.training
    model.eval()
    lengths = encoded.lengths
    order = np.argsort(lengths, kind="stable")
    logits = torch.empty(len(lengths), model.num_classes)
    try:
        with scoring_bar(len(lengths), unit="example", shown=progress) as bar:
            for first in range(0, len(order), batch_size):
                rows = order[first : first + batch_size]
                batch = encoded.batch(rows)
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
