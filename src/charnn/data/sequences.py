"""Sequences of numbers for `task: classify`: NumPy .npz files, read with pickling refused.

An .npz file holds either

    x         (N, T, F), or (N, T) read as F = 1: N sequences of T steps of F numbers, any
              integer or float dtype
    y         (N,): the labels, integers or strings
    lengths   (N,), optional: each sequence's real length, 1..T, for right-padded sequences
              (default: every sequence is T long)

or Keras' layout, `x_train`, `y_train`, `x_test`, `y_test`: a training and a test split.
`data.path: mnist` (when no file of that name exists) is Keras' MNIST, downloaded once into the
data folder and read in that layout: 28 rows of 28 pixels per image.

The arrays stay in their stored dtype (uint8 pixels take a quarter of float32's memory);
batches become float32 one at a time (charnn.inference.batches). A file is read whole, so its
data must fit in memory.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from charnn.config import DataConfig
from charnn.data.labelled import check_labels, stratified_rows
from charnn.data.sources import RemoteCorpus, fetch_remote
from charnn.errors import DataError, key

NPZ_SUFFIX = ".npz"
REMOTE_ARRAYS = {
    "mnist": RemoteCorpus(
        filename="mnist.npz",
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
}
"""Named sources of sequences, in Keras' layout (their names are the config's NAMED_DATA)."""
KERAS_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
LAYOUTS = (
    "x (N, T, F) and y (N,), with lengths (N,) optional; or Keras' x_train, y_train, x_test, y_test"
)
CHECK_ROWS = 4096
"""Sequences checked for NaN at a time: bounds the temporary boolean arrays."""


@dataclass(frozen=True)
class Sequences:
    """N sequences of numbers, right-padded to T steps, and their labels."""

    values: np.ndarray
    """(N, T, F) in the dtype the file stored."""
    lengths: np.ndarray
    """(N,) int64: each sequence's real length, 1..T."""
    labels: list[str]
    """(N,) each sequence's label; empty when the file gave none (`charnn predict`)."""

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def steps(self) -> int:
        return int(self.values.shape[1])

    @property
    def features(self) -> int:
        return int(self.values.shape[2])

    def take(self, rows: Sequence[int] | np.ndarray) -> Sequences:
        index = np.asarray(rows, dtype=np.int64)
        return Sequences(
            self.values[index],
            self.lengths[index],
            [self.labels[i] for i in index] if self.labels else [],
        )

    def truncated(self, max_length: int | None) -> Sequences:
        """Each sequence cut to its first `max_length` steps (None: as is)."""
        if max_length is None or max_length >= self.steps:
            return self
        return Sequences(
            self.values[:, :max_length], np.minimum(self.lengths, max_length), self.labels
        )

    def sha256(self) -> str:
        """Identifies the values (real steps and padding alike), lengths and labels, in order."""
        digest = hashlib.sha256()
        digest.update(f"{self.values.dtype.str}{self.values.shape}".encode())
        for first in range(0, len(self), CHECK_ROWS):
            digest.update(np.ascontiguousarray(self.values[first : first + CHECK_ROWS]).data)
        digest.update(self.lengths.astype("<i8").tobytes())
        digest.update("\n".join(self.labels).encode("utf-8"))
        return digest.hexdigest()


def names_sequences(path: str | None) -> bool:
    """Whether `data.path` gives sequences of numbers (an .npz file or a named source)."""
    if path is None:
        return False
    return path.endswith(NPZ_SUFFIX) or names_a_download(path)


def names_a_download(path: str | None) -> bool:
    """Whether `data.path` is a named source (`mnist`) rather than a file of that name."""
    return path in REMOTE_ARRAYS and not Path(path).exists()


def sequence_file(path: str) -> Path:
    """The .npz file `path` names, downloading a named source on first use."""
    if names_a_download(path):
        return fetch_remote(REMOTE_ARRAYS[path], path)
    return Path(path)


def read_sequences(
    path: Path, *, what: str, labelled: bool = True, keras: bool = True
) -> tuple[Sequences, Sequences | None]:
    """(the sequences of `path`, its test split when it is in Keras' layout, else None).

    `labelled`: y (or y_train and y_test) must be there; otherwise labels are not read.
    `keras`: whether Keras' layout is accepted (not for data.val_path and data.test_path).
    """
    arrays = _load(path, what)
    try:
        if "x" in arrays.files:
            return _sequences(arrays, path, what, "x", "y", "lengths", labelled), None
        if keras and any(name in arrays.files for name in KERAS_ARRAYS):
            missing = [name for name in KERAS_ARRAYS if name not in arrays.files]
            if missing and (labelled or "x_test" not in arrays.files):
                raise DataError(
                    f"{what} {path} is in Keras' layout but has no {', '.join(missing)}; give "
                    "all four of x_train, y_train, x_test and y_test"
                )
            if not labelled:  # the test split is what a model predicts
                return _sequences(arrays, path, what, "x_test", "y_test", None, False), None
            train = _sequences(arrays, path, what, "x_train", "y_train", None, True)
            test = _sequences(arrays, path, what, "x_test", "y_test", None, True)
            if test.values.shape[1:] != train.values.shape[1:]:
                raise DataError(
                    f"{what} {path}: x_test has sequences of shape {test.values.shape[1:]}, "
                    f"x_train of {train.values.shape[1:]}; give both the same steps and features"
                )
            return train, test
        arrays_held = ", ".join(arrays.files) or "no arrays"
        raise DataError(
            f"{what} {path} has no array x (it holds {arrays_held}); an .npz file for "
            f"task: classify holds {LAYOUTS}"
        )
    finally:
        arrays.close()


def _load(path: Path, what: str) -> Any:
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path")
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory; give an .npz file")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{what} {path} is not a readable .npz file ({error}); write it with numpy.savez"
        ) from None


def _array(arrays: Any, name: str, path: Path, what: str) -> np.ndarray:
    try:
        array = arrays[name]
    except ValueError:  # numpy refuses an object array without pickling
        raise DataError(
            f"array {name} of {what} {path} holds Python objects, which charnn does not load "
            f"(unpickling them could run code); save {name} as numbers or strings, e.g. "
            f"numpy.savez(..., {name}=numpy.asarray({name}, dtype=str))"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"array {name} of {what} {path} is damaged ({error})") from None
    return np.asarray(array)


def _sequences(
    arrays: Any,
    path: Path,
    what: str,
    x_name: str,
    y_name: str,
    lengths_name: str | None,
    labelled: bool,
) -> Sequences:
    where = f"{what} {path}"
    values = _array(arrays, x_name, path, what)
    if values.ndim == 2:
        values = values[:, :, None]  # (N, T) -> (N, T, 1)
    if values.ndim != 3:
        raise DataError(
            f"array {x_name} of {where} has shape {values.shape}; it must be (N, T, F) or "
            "(N, T): N sequences of T steps of F numbers"
        )
    if values.dtype.kind not in "biuf":
        raise DataError(
            f"array {x_name} of {where} holds {values.dtype} values; it must hold integers or "
            f"floats (convert it, e.g. {x_name}.astype('float32'))"
        )
    count, steps, features = values.shape
    if count == 0 or steps == 0 or features == 0:
        raise DataError(f"array {x_name} of {where} is empty (shape {values.shape})")
    lengths = np.full(count, steps, dtype=np.int64)
    if lengths_name is not None and lengths_name in arrays.files:
        lengths = _lengths(_array(arrays, lengths_name, path, what), count, steps, where)
    _check_finite(values, lengths, x_name, where)
    labels: list[str] = []
    if labelled:
        if y_name not in arrays.files:
            raise DataError(
                f"{where} has no array {y_name}; give each sequence a label in {y_name} (N,)"
            )
        labels = _labels(_array(arrays, y_name, path, what), count, y_name, x_name, where)
    return Sequences(values, lengths, labels)


def _lengths(lengths: np.ndarray, count: int, steps: int, where: str) -> np.ndarray:
    if lengths.ndim != 1 or len(lengths) != count:
        raise DataError(
            f"array lengths of {where} has shape {lengths.shape}; give one length per sequence "
            f"({count},)"
        )
    if lengths.dtype.kind not in "iu":
        raise DataError(f"array lengths of {where} holds {lengths.dtype}; give integers")
    outside = np.flatnonzero((lengths < 1) | (lengths > steps))
    if len(outside):
        row = int(outside[0])
        raise DataError(
            f"array lengths of {where} has {lengths[row]} at row {row}; each length is a "
            f"sequence's real number of steps, from 1 to {steps} (x's T)"
        )
    return lengths.astype(np.int64)


def _check_finite(values: np.ndarray, lengths: np.ndarray, x_name: str, where: str) -> None:
    """Refuse NaN or infinite values at real steps (padding may hold anything)."""
    if values.dtype.kind != "f":
        return
    steps = np.arange(values.shape[1])
    for first in range(0, len(values), CHECK_ROWS):
        chunk = values[first : first + CHECK_ROWS]
        real = steps[None, :] < lengths[first : first + CHECK_ROWS, None]  # (n, T)
        bad = np.flatnonzero((~np.isfinite(chunk).all(axis=2) & real).any(axis=1))
        if len(bad):
            row = first + int(bad[0])
            raise DataError(
                f"array {x_name} of {where} holds NaN or infinite values (first in sequence "
                f"{row}); replace them or drop those sequences"
            )


def _labels(y: np.ndarray, count: int, y_name: str, x_name: str, where: str) -> list[str]:
    if y.ndim != 1 or len(y) != count:
        raise DataError(
            f"array {y_name} of {where} has shape {y.shape} for {count} sequences in {x_name}; "
            f"give one label per sequence ({count},)"
        )
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)  # whole numbers stored as floats
    if y.dtype.kind in "iub":
        return [str(int(label)) for label in y.tolist()]
    if y.dtype.kind in "US":
        labels = [
            (label.decode("utf-8", "replace") if isinstance(label, bytes) else label).strip()
            for label in y.tolist()
        ]
        if not all(labels):
            raise DataError(
                f"array {y_name} of {where} has an empty label; give every sequence one"
            )
        return labels
    raise DataError(
        f"array {y_name} of {where} holds {y.dtype} values; labels are integers or strings"
    )


def label_order(labels: set[str]) -> list[str]:
    """The labels sorted, integers by value (2 before 10), then the rest by their text."""

    def order(label: str) -> tuple[bool, int, str]:
        whole = label.lstrip("-").isdigit()
        return (not whole, int(label) if whole else 0, label)

    return sorted(labels, key=order)


# --------------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class SequenceSplits:
    train: Sequences
    val: Sequences
    test: Sequences
    labels: list[str]
    """Ordered as `label_order`; label i is class i."""
    name: str
    sha256: str
    """The identity of the training sequences."""
    test_from_file: bool
    """The test split came from the file (Keras' layout) or data.test_path."""


def prepare_sequences(data: DataConfig, *, seed: int) -> SequenceSplits:
    """The run's training, validation and test sequences, as `prepare_examples` does for texts:
    stratified by label and drawn by `seed`, unless Keras' layout or data.val_path /
    data.test_path give a split."""
    if data.path is None:  # callers check names_sequences(data.path) first
        raise DataError(f"give the sequences as {key('data.path', 'PATH.npz')}")
    main, keras_test = read_sequences(sequence_file(data.path), what="data.path")
    main = main.truncated(data.max_length)
    val_fraction = 0.0 if data.val_path else data.val_fraction
    from_file = keras_test is not None or data.test_path is not None
    test_fraction = 0.0 if from_file else data.test_fraction
    train_rows, val_rows, test_rows = stratified_rows(
        main.labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    train, val, test = main.take(train_rows), main.take(val_rows), main.take(test_rows)
    if keras_test is not None:
        test = keras_test.truncated(data.max_length)
    for name in ("val_path", "test_path"):
        path = getattr(data, name)
        if path is not None:
            split, _ = read_sequences(Path(path), what=f"data.{name}", keras=False)
            split = split.truncated(data.max_length)
            if split.features != main.features:
                raise DataError(
                    f"data.{name} {path} has {split.features} features per step, data.path "
                    f"{main.features}; give both the same features"
                )
            val, test = (split, test) if name == "val_path" else (val, split)
    labels = label_order(set(train.labels))
    held_out = {"the validation split": val.labels, "the test split": test.labels}
    check_labels(labels, held_out, path=data.path, kind="sequences")
    return SequenceSplits(
        train=train,
        val=val,
        test=test,
        labels=labels,
        name=data.path,
        sha256=train.sha256(),
        test_from_file=from_file,
    )


def standardization(sequences: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) of each feature over the real steps of `sequences`, float32;
    a constant feature's deviation is 1, so it is only shifted."""
    total = np.zeros(sequences.features)
    squares = np.zeros(sequences.features)
    count = 0
    steps = np.arange(sequences.steps)
    for first in range(0, len(sequences), CHECK_ROWS):
        chunk = sequences.values[first : first + CHECK_ROWS].astype(np.float64)
        real = steps[None, :] < sequences.lengths[first : first + CHECK_ROWS, None]
        picked = chunk[real]  # (real steps, F)
        total += picked.sum(axis=0)
        squares += np.square(picked).sum(axis=0)
        count += len(picked)
    mean = total / count
    deviation = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
    deviation[deviation < 1e-6 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean.astype(np.float32), deviation.astype(np.float32)
