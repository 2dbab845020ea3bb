"""Classifying sequences of numbers with a trained CharClassifier, and scoring it on them.

Sequences come from an .npz file (charnn.data.sequences) or, from Python, as an array (N, T, F)
or (N, T), or a list of (T, F) or (T,) arrays of different lengths, padded here. Values go in
raw: the model standardises them itself, as it learned to from its training split.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from charnn.artifacts.checkpoint import Checkpoint
from charnn.data.sequences import NPZ_SUFFIX, Sequences, prepare_sequences, read_sequences
from charnn.errors import CharnnError, DataError, key
from charnn.inference.batches import EncodedValues, classify_logits
from charnn.inference.scoring import (
    NO_TEST_SPLIT,
    ClassifyResult,
    changed_data,
    check_top_k,
    score_encoded,
    top_labels,
)
from charnn.model.classifier import CharClassifier

NPZ_LAYOUT = "x (N, T, F) and y (N,), lengths (N,) optional"


def score_sequences(
    model: CharClassifier,
    labels: Sequence[str],
    sequences: Sequences,
    *,
    what: str = "the sequences",
    progress: bool = False,
) -> ClassifyResult:
    """`score_encoded` of labelled sequences."""
    started = time.perf_counter()
    _check_features(model, sequences, what)
    encoded = EncodedValues(sequences)
    return score_encoded(
        model, encoded, labels, sequences.labels, what=what, progress=progress, started=started
    )


def predict_sequences(
    model: CharClassifier, labels: Sequence[str], sequences: Sequences, *, top_k: int = 1
) -> list[list[tuple[str, float]]]:
    """Per sequence, its `top_k` likeliest labels with probabilities, likeliest first."""
    check_top_k(top_k)
    _check_features(model, sequences, "the input")
    return top_labels(classify_logits(model, EncodedValues(sequences)), labels, top_k)


def _check_features(model: CharClassifier, sequences: Sequences, what: str) -> None:
    if sequences.features != model.features:
        raise DataError(
            f"{what} has {sequences.features} number(s) per step; this model reads "
            f"{model.features}, as its training data had"
        )


def as_sequences(x: Any) -> Sequences:
    """Sequences from Python: an array (N, T, F) or (N, T) (F = 1), or a list of (T, F) or (T,)
    arrays of different lengths, right-padded here (or `Sequences` as read from a file)."""
    if isinstance(x, Sequences):
        return x
    if isinstance(x, np.ndarray):
        values = np.asarray(x)
        if values.ndim == 2:
            values = values[:, :, None]
        if values.ndim != 3:
            raise DataError(
                f"x has shape {values.shape}; give an array (N, T, F) or (N, T), or a list of "
                "(T, F) arrays"
            )
        lengths = np.full(len(values), values.shape[1], dtype=np.int64)
    else:
        rows = [np.asarray(item) for item in x]
        if not rows:
            raise DataError("x holds no sequences; give at least one")
        rows = [row[:, None] if row.ndim == 1 else row for row in rows]
        shapes = {row.shape[1:] for row in rows if row.ndim == 2}
        if len(shapes) != 1 or any(row.ndim != 2 or len(row) == 0 for row in rows):
            raise DataError(
                "x must be a list of (T, F) arrays, each with at least one step and all with "
                f"the same F; got shapes {', '.join(str(row.shape) for row in rows[:5])}"
            )
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        values = np.zeros((len(rows), int(lengths.max()), rows[0].shape[1]), dtype=np.float32)
        for index, row in enumerate(rows):
            values[index, : len(row)] = row
    if values.dtype.kind not in "biuf":
        raise DataError(f"x holds {values.dtype} values; give integers or floats")
    if len(values) == 0 or values.shape[1] == 0:
        raise DataError(f"x is empty (shape {values.shape}); give at least one step")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError("x holds NaN or infinite values; replace them or drop those sequences")
    return Sequences(values, lengths, [])


def npz_file(file: Path, checkpoint: Checkpoint) -> None:
    """Refuse anything but an .npz file for a run that reads sequences of numbers."""
    if file.suffix != NPZ_SUFFIX:
        raise DataError(
            f"{file} is not an .npz file; {checkpoint.config.data.path} trained this run on "
            f"sequences of numbers, so give it sequences: an .npz file with {NPZ_LAYOUT}"
        )


def unlabelled_sequences(file: Path, checkpoint: Checkpoint) -> Sequences:
    """The sequences of an .npz file to classify (x and lengths; a y is not read). A file in
    Keras' layout gives its test split."""
    npz_file(file, checkpoint)
    sequences, _ = read_sequences(file, what="file", labelled=False)
    return sequences.truncated(checkpoint.config.data.max_length)


def labelled_sequences(checkpoint: Checkpoint, file: Path) -> Sequences:
    """The labelled sequences of an .npz file to score; a file in Keras' layout gives its test
    split."""
    npz_file(file, checkpoint)
    main, test = read_sequences(file, what="labelled file")
    return (test if test is not None else main).truncated(checkpoint.config.data.max_length)


def held_out_sequences(checkpoint: Checkpoint, split: str) -> Sequences:
    """The run's own `split`, drawn again as training drew it (and checked to be the same)."""
    config = checkpoint.config
    try:
        splits = prepare_sequences(config.data, seed=config.train.seed)
    except DataError as error:
        raise DataError(
            f"{error.marked} (or score any labelled .npz file with {key('file', 'PATH')})"
        ) from None
    if split == "test" and not len(splits.test):
        raise CharnnError(NO_TEST_SPLIT)
    if splits.sha256 != checkpoint.corpus.get("sha256"):
        raise DataError(changed_data(splits.name, split))
    return {"val": splits.val, "test": splits.test, "train": splits.train}[split]
