from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.errors import CharnnError, DataError
from charnn.inference.sequences import as_sequences, held_out_sequences, labelled_sequences


def test_arrays_and_lists_become_padded_sequences() -> None:
    square = as_sequences(np.ones((2, 3), dtype=np.uint8))
    assert square.values.shape == (2, 3, 1) and square.lengths.tolist() == [3, 3]
    assert square.values.dtype == np.uint8  # converted a batch at a time, later
    ragged = as_sequences([np.ones((4, 2)), np.full((1, 2), 7.0)])
    assert ragged.values.shape == (2, 4, 2) and ragged.lengths.tolist() == [4, 1]
    assert ragged.values[1, 0].tolist() == [7.0, 7.0] and ragged.values[1, 1:].sum() == 0
    assert as_sequences([[1, 2, 3], [4]]).lengths.tolist() == [3, 1]  # (T,) each: F = 1


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros(3), r"x has shape \(3,\)"),
        ([], "x holds no sequences"),
        ([np.ones((2, 2)), np.ones((2, 3))], "all with the same F"),
        ([np.ones((0, 2))], "each with at least one step"),
        (np.array([["a", "b"]]), "x holds <U1 values"),
        (np.array([[1.0, np.inf]]), "NaN or infinite"),
    ],
)
def test_bad_arrays_are_one_clear_error(x: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        as_sequences(x)


def test_the_runs_own_split_is_checked_to_be_the_one_it_held_out(
    trained_sequence_classifier: Path, tmp_path: Path
) -> None:
    checkpoint = load_checkpoint(trained_sequence_classifier / "best.pt")
    assert len(held_out_sequences(checkpoint, "test")) == 60
    data = Path(checkpoint.config.data.path or "")
    arrays = dict(np.load(data))
    arrays["x"] = 1 - arrays["x"]  # other bits, same shapes
    changed = tmp_path / "changed.npz"
    np.savez(changed, **arrays)
    moved = dataclasses.replace(
        checkpoint,
        config=dataclasses.replace(
            checkpoint.config, data=dataclasses.replace(checkpoint.config.data, path=str(changed))
        ),
    )
    with pytest.raises(DataError, match="have changed since this run trained on them"):
        held_out_sequences(moved, "val")
    no_test = dataclasses.replace(
        checkpoint,
        config=dataclasses.replace(
            checkpoint.config,
            data=dataclasses.replace(checkpoint.config.data, test_fraction=0.0),
        ),
    )
    with pytest.raises(CharnnError, match="this run has no test split"):
        held_out_sequences(no_test, "test")


def test_a_keras_file_is_scored_on_its_test_split(
    trained_sequence_classifier: Path, tmp_path: Path
) -> None:
    checkpoint = load_checkpoint(trained_sequence_classifier / "best.pt")
    keras = tmp_path / "keras.npz"
    x = np.zeros((4, 5), dtype=np.uint8)
    np.savez(keras, x_train=x, y_train=np.arange(4) % 2, x_test=x[:3], y_test=np.arange(3) % 2)
    assert len(labelled_sequences(checkpoint, keras)) == 3
    with pytest.raises(DataError, match=r"is not an \.npz file"):
        labelled_sequences(checkpoint, tmp_path / "labels.tsv")
