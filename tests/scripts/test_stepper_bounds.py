"""scripts/stepper_bounds.py: the products a sampling step runs, alone, and their arithmetic."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from charnn.config import ModelConfig
from charnn.inference.stepper import Stepper
from charnn.model.network import CharRNN


@pytest.fixture(scope="module")
def stepper_bounds() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "stepper_bounds.py"
    spec = importlib.util.spec_from_file_location("stepper_bounds", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def two_threads() -> Iterator[None]:
    """One stream on two threads takes the stepper's split products."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("streams", [2, 16])
def test_running_the_products_alone_leaves_the_state_as_it_was(
    stepper_bounds: ModuleType, cell: str, streams: int
) -> None:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell=cell, hidden_size=16, num_layers=2), vocab_size=7).eval()
    ids = torch.randint(0, 7, (streams, 5))  # (N, T)
    with torch.inference_mode():
        expected, _ = model(ids)  # (N, T, V)
        stepper = Stepper(model, model.zero_hidden(streams))
        got = []
        for position in range(5):
            stepper_bounds.run_products(stepper)  # as the benchmark times them, between real steps
            got.append(stepper.step(ids[:, position]))
            stepper_bounds.run_products(stepper)
    torch.testing.assert_close(torch.stack(got, dim=1), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("streams", [1, 3])  # split in two on two threads, whole
def test_multiply_adds_per_char_counts_the_steps_products(
    stepper_bounds: ModuleType, two_threads: None, cell: str, streams: int
) -> None:
    """G H H for the first layer's recurrent product (its input part is a table row), G H 2H
    for each deeper layer's input and recurrent products, and H V for the head."""
    gates, hidden, vocab = {"lstm": 4, "gru": 3, "rnn": 1}[cell], 12, 7
    config = ModelConfig(cell=cell, hidden_size=hidden, num_layers=3, embedding_dim=5)
    model = CharRNN(config, vocab_size=vocab).eval()
    with torch.inference_mode():
        stepper = Stepper(model, model.zero_hidden(streams))
    expected = gates * hidden * hidden + 2 * gates * hidden * 2 * hidden + hidden * vocab
    assert stepper_bounds.multiply_adds_per_char(stepper) == expected
