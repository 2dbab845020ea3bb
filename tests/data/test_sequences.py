from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from charnn.config import NAMED_DATA, DataConfig, load_config
from charnn.data.sequences import (
    REMOTE_ARRAYS,
    Sequences,
    label_order,
    names_sequences,
    prepare_sequences,
    read_sequences,
    standardization,
)
from charnn.data.sources import RemoteCorpus
from charnn.errors import DataError


def save(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def labelled(count: int = 40, steps: int = 6, features: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.integers(0, 255, (count, steps, features), dtype=np.uint8),
        "y": np.arange(count) % 2,
    }


def test_x_y_and_lengths_are_read_in_their_stored_dtype(tmp_path: Path) -> None:
    arrays = labelled()
    lengths = np.arange(40) % 6 + 1
    sequences, test = read_sequences(
        save(tmp_path / "d.npz", **arrays, lengths=lengths), what="data.path"
    )
    assert test is None and sequences.values.dtype == np.uint8
    assert sequences.values.shape == (40, 6, 3) and sequences.lengths.tolist() == lengths.tolist()
    assert sequences.labels[:3] == ["0", "1", "0"]


def test_a_2d_x_is_one_number_a_step_and_every_sequence_is_whole(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((4, 7), np.float32), y=np.array(list("abab")))
    sequences, _ = read_sequences(path, what="data.path")
    assert sequences.values.shape == (4, 7, 1) and sequences.lengths.tolist() == [7] * 4
    assert sequences.labels == list("abab")


def test_keras_layout_gives_a_training_and_a_test_split(tmp_path: Path) -> None:
    train, test = labelled(40), labelled(10, seed=1)
    path = save(
        tmp_path / "k.npz",
        x_train=train["x"],
        y_train=train["y"],
        x_test=test["x"],
        y_test=test["y"],
    )
    got_train, got_test = read_sequences(path, what="data.path")
    assert got_test is not None and len(got_train) == 40 and len(got_test) == 10
    splits = prepare_sequences(DataConfig(path=str(path), val_fraction=0.25), seed=3)
    assert splits.test_from_file and len(splits.test) == 10
    assert len(splits.train) == 30 and len(splits.val) == 10  # stratified: 5 of each label


def test_splits_are_stratified_and_drawn_by_the_seed(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", **labelled(100))
    data = DataConfig(path=str(path), val_fraction=0.1, test_fraction=0.2)
    first, again = prepare_sequences(data, seed=1), prepare_sequences(data, seed=1)
    other = prepare_sequences(data, seed=2)
    assert (len(first.train), len(first.val), len(first.test)) == (70, 10, 20)
    assert sorted(first.val.labels) == ["0"] * 5 + ["1"] * 5
    assert first.sha256 == again.sha256 != other.sha256
    assert np.array_equal(first.val.values, again.val.values)
    assert first.labels == ["0", "1"]


def test_integer_labels_sort_by_value() -> None:
    assert label_order({"10", "2", "-1", "b", "a"}) == ["-1", "2", "10", "a", "b"]


def test_standardization_reads_real_steps_only_and_leaves_constants_unscaled() -> None:
    values = np.zeros((2, 3, 2), dtype=np.uint8)
    values[:, :, 0] = [[1, 3, 99], [5, 7, 99]]  # 99: padding past the lengths
    values[:, :, 1] = 4  # a constant feature
    mean, scale = standardization(Sequences(values, np.array([2, 2]), []))
    assert mean.tolist() == pytest.approx([4.0, 4.0])
    assert scale.tolist() == pytest.approx([np.std([1, 3, 5, 7]), 1.0])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.zeros(3)}, r"has no array x \(it holds y\)"),
        ({"x": np.zeros((3, 2))}, "has no array y; give each sequence a label"),
        ({"x": np.zeros(3), "y": np.zeros(3)}, r"has shape \(3,\); it must be \(N, T, F\)"),
        ({"x": np.zeros((3, 2, 1, 1)), "y": np.zeros(3)}, r"it must be \(N, T, F\) or \(N, T\)"),
        ({"x": np.zeros((3, 2)), "y": np.zeros(4)}, r"has shape \(4,\) for 3 sequences in x"),
        ({"x": np.array([["a"]]), "y": np.zeros(1)}, "holds <U1 values; it must hold integers"),
        (
            {"x": np.zeros((3, 2)), "y": np.zeros(3), "lengths": np.array([1, 3, 2])},
            "lengths of .* has 3 at row 1; .* from 1 to 2",
        ),
        (
            {"x": np.zeros((3, 2)), "y": np.zeros(3), "lengths": np.array([1, 0, 2])},
            "has 0 at row 1",
        ),
        (
            {"x": np.array([[0.0, np.nan], [1.0, 2.0]]), "y": np.zeros(2)},
            "holds NaN or infinite values \\(first in sequence 0\\)",
        ),
        ({"x": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, "labels are integers or strings"),
        (
            {"x_train": np.zeros((2, 2)), "y_train": np.zeros(2)},
            "Keras' layout but has no x_test, y_test",
        ),
    ],
)
def test_each_bad_file_is_one_error_naming_the_array_and_the_fix(
    arrays: dict, message: str, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=message):
        read_sequences(save(tmp_path / "bad.npz", **arrays), what="data.path")


def test_padding_may_hold_nan(tmp_path: Path) -> None:
    x = np.array([[1.0, np.nan], [1.0, 2.0]])
    path = save(tmp_path / "d.npz", x=x, y=np.array([0, 1]), lengths=np.array([1, 2]))
    sequences, _ = read_sequences(path, what="data.path")
    assert sequences.lengths.tolist() == [1, 2]


def test_pickled_objects_are_refused_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(2), np.zeros(3)]
    np.savez(path, x=ragged, y=np.zeros(2))
    with pytest.raises(DataError, match=r"array x of data.path .* holds Python objects"):
        read_sequences(path, what="data.path")


def test_files_that_are_not_npz_archives(tmp_path: Path) -> None:
    text = tmp_path / "not.npz"
    text.write_text("label\ttext\n")
    with pytest.raises(DataError, match=r"is not a readable \.npz file"):
        read_sequences(text, what="data.path")
    with pytest.raises(DataError, match="does not exist"):
        read_sequences(tmp_path / "missing.npz", what="data.path")


def test_a_held_out_file_must_have_the_same_features(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", **labelled(features=3))
    val = save(tmp_path / "v.npz", **labelled(features=2))
    with pytest.raises(DataError, match=r"data.val_path .* has 2 features per step, data.path 3"):
        prepare_sequences(DataConfig(path=str(path), val_path=str(val)), seed=0)


def test_names_and_files() -> None:
    assert names_sequences("rows.npz") and names_sequences("mnist")
    assert not names_sequences("names.tsv") and not names_sequences(None)
    assert set(NAMED_DATA) == set(REMOTE_ARRAYS)  # the config's list, the download's table
    assert load_config(overrides=["task=classify", "data.path=mnist"]).data.path == "mnist"


@pytest.fixture
def npz_server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A Keras-layout .npz served on loopback: tests never touch the internet."""
    train, test = labelled(20), labelled(6, seed=1)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=train["x"], y_train=train["y"], x_test=test["x"], y_test=test["y"])
    served = tmp_path / "served"
    served.mkdir()
    (served / "mnist.npz").write_bytes(buffer.getvalue())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *args: None  # type: ignore[method-assign]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mnist.npz", buffer.getvalue()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_mnist_downloads_once_into_the_cache_and_reads_as_keras(
    npz_server: tuple[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, payload = npz_server
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHARNN_DATA_DIR", str(cache))
    monkeypatch.chdir(tmp_path)  # no file called mnist here
    sha = hashlib.sha256(payload).hexdigest()
    monkeypatch.setitem(REMOTE_ARRAYS, "mnist", RemoteCorpus("mnist.npz", url, sha))
    splits = prepare_sequences(DataConfig(path="mnist", val_fraction=0.2), seed=0)
    assert (cache / "mnist.npz").read_bytes() == payload
    assert splits.test_from_file and len(splits.test) == 6 and len(splits.train) == 16
    monkeypatch.setitem(  # offline now: the cached file is used
        REMOTE_ARRAYS, "mnist", RemoteCorpus("mnist.npz", "http://127.0.0.1:9/x", sha)
    )
    again = prepare_sequences(DataConfig(path="mnist", val_fraction=0.2), seed=0)
    assert again.sha256 == splits.sha256


def test_the_pinned_mnist_is_keras_file() -> None:
    mnist = REMOTE_ARRAYS["mnist"]
    assert mnist.url.endswith("/tf-keras-datasets/mnist.npz")
    assert mnist.sha256 == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
