"""Shared fixtures: a small patterned corpus, tiny configs, and one trained run per session."""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import torch

from charnn.config import RunConfig, config_from_dict
from charnn.model.network import CharRNN

# Two cores: one thread per test process keeps the suite fast and its timings steady.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SHAKESPEARE = REPO_ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

# A text with a learnable structure: a tiny model should get far below its unigram entropy.
PATTERNED_TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "a stitch in time saves nine.\n"
    "to be or not to be, that is the question.\n"
) * 40


def core_output_dtypes(model: CharRNN) -> list[torch.dtype]:
    """Record the dtype of every output the recurrent core produces from now on."""
    seen: list[torch.dtype] = []
    model.rnn.register_forward_hook(lambda _module, _inputs, out: seen.append(out[0].dtype))
    return seen


def without_time_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX export as torch 2.10 does it: nothing applies the decompositions of aten::lstm and
    aten::gru that loop over time (neither charnn nor, where it does so, torch.onnx)."""
    pytest.importorskip("onnxscript")
    from charnn.artifacts.export import onnx as onnx_export

    monkeypatch.setattr(onnx_export, "_time_looping_rnn_kernels", contextlib.nullcontext)
    strategies = pytest.importorskip("torch.onnx._internal.exporter._capture_strategies")
    name = "_patch_dynamic_shape_rnn_decompositions"  # torch 2.13's; torch 2.11 has none
    if hasattr(strategies, name):
        monkeypatch.setattr(strategies, name, lambda dynamic_shapes: contextlib.nullcontext())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, in their own order: with several workers, the long runs start at
    once and the many short tests fill in around them, rather than one long test starting last
    and keeping the suite waiting on one worker."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def unigram_entropy(text: str) -> float:
    """Entropy of the character frequencies of `text`, in nats."""
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log(n / total) for n in counts.values())


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Token files go to a folder of the test session, never to the user's ~/.cache."""
    from charnn.data.token_cache import CACHE_ENV

    folder = tmp_path_factory.mktemp("token-cache")
    os.environ[CACHE_ENV] = str(folder)  # subprocesses inherit it through subprocess_env
    return folder


@pytest.fixture
def fresh_dynamo() -> Iterator[None]:
    """Compiled code is cached per code object; each compile test starts and ends clean."""
    import torch._dynamo

    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(PATTERNED_TEXT, encoding="utf-8")
    return path


def tiny_tree(corpus: Path, out_dir: Path, **train: object) -> dict[str, object]:
    """A config tree for a model small enough to train in a second or two."""
    return {
        "data": {"path": str(corpus), "val_fraction": 0.1},
        "model": {"cell": "lstm", "hidden_size": 32, "num_layers": 1, "embedding_dim": 16},
        "train": {
            "batch_size": 4,
            "seq_len": 16,
            "lr": 1e-2,
            "warmup_steps": 5,
            "max_steps": 40,
            "eval_every": 20,
            "log_every": 10,
            **train,
        },
        "device": "cpu",
        "out_dir": str(out_dir),
    }


@pytest.fixture
def tiny_config(corpus_file: Path, tmp_path: Path) -> RunConfig:
    return config_from_dict(tiny_tree(corpus_file, tmp_path / "run"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small trained run, shared by the sample, eval and CLI tests (read-only for them)."""
    from charnn.training.loop import train

    root = tmp_path_factory.mktemp("trained")
    corpus = root / "corpus.txt"
    corpus.write_text(PATTERNED_TEXT, encoding="utf-8")
    tree = tiny_tree(corpus, root / "run", max_steps=400, eval_every=200, lr=2e-2)
    tree["model"]["hidden_size"] = 64  # type: ignore[index]  # enough to learn the corpus by heart
    tree["data"]["test_fraction"] = 0.1  # type: ignore[index]
    train(config_from_dict(tree))
    return root / "run"


def run_script(
    name: str, *args: str, env: dict[str, str], timeout: int = 180
) -> subprocess.CompletedProcess[str]:
    """Run scripts/<name> with `args` in a fresh interpreter; it must succeed."""
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for `python -m charnn` subprocesses: one thread, no colour, wide lines."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture(scope="session")
def bits_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic majority-bit task (scripts/majority_bits.py): 600 labelled bit strings."""
    path = tmp_path_factory.mktemp("bits") / "bits.tsv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_script("majority_bits.py", str(path), "--count", "600", "--max-length", "15", env=env)
    return path


def tiny_classify_tree(data: Path, out_dir: Path, **train: object) -> dict[str, object]:
    """A config tree for a classifier small enough to train in a second or two."""
    tree = tiny_tree(data, out_dir, batch_size=16, **train)
    tree["task"] = "classify"
    return tree


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory: pytest.TempPathFactory, bits_file: Path) -> Path:
    """One small trained classify run (majority bit), shared read-only by its users."""
    from charnn.training.loop import train

    root = tmp_path_factory.mktemp("classifier")
    tree = tiny_classify_tree(bits_file, root / "run", max_steps=300, eval_every=100, lr=2e-2)
    tree["data"]["test_fraction"] = 0.1  # type: ignore[index]
    train(config_from_dict(tree))
    return root / "run"


@pytest.fixture(scope="session")
def trained_sequence_classifier(tmp_path_factory: pytest.TempPathFactory, bits_file: Path) -> Path:
    """One small classify run on sequences of numbers (the majority-bit examples' .npz),
    shared read-only by its users."""
    from charnn.training.loop import train

    root = tmp_path_factory.mktemp("sequences")
    tree = tiny_classify_tree(
        bits_file.with_suffix(".npz"), root / "run", max_steps=300, eval_every=100, lr=2e-2
    )
    tree["data"]["test_fraction"] = 0.1  # type: ignore[index]
    train(config_from_dict(tree))
    return root / "run"


class FillsUp(io.RawIOBase):
    """A file on a disk with `room` bytes left: a write past that fails part way, with ENOSPC,
    as a real full disk does (the first bytes land, then the error)."""

    def __init__(self, file: BinaryIO, room: int) -> None:
        self.file, self.room = file, room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self.file.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.file.write(data)

    def fileno(self) -> int:
        return self.file.fileno()

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        super().close()  # flushes through self.flush while the file is still open
        self.file.close()


def disk_with_room(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """Every file atomic_write opens from now on lies on a disk with `room` bytes left."""
    from charnn.platform import atomic

    real_fdopen = os.fdopen

    def small_disk(descriptor: int, *args: Any, **kwargs: Any) -> Any:
        return FillsUp(real_fdopen(descriptor, *args, **kwargs), room=room)

    monkeypatch.setattr(atomic.os, "fdopen", small_disk)
