from __future__ import annotations

import pytest
import torch
from torch import nn

from charnn.config import ModelConfig
from charnn.model.network import (
    CharRNN,
    count_parameters,
    detach_hidden,
    hidden_from_list,
    hidden_to_list,
)
from charnn.model.simple_rnn import SimpleRNN

from ..conftest import core_output_dtypes

CELLS = ("lstm", "gru", "rnn")


def small_model(cell: str, num_layers: int = 2, dropout: float = 0.0) -> CharRNN:
    torch.manual_seed(0)
    config = ModelConfig(
        cell=cell, hidden_size=12, num_layers=num_layers, embedding_dim=6, dropout=dropout
    )
    return CharRNN(config, vocab_size=9)


def test_cells_map_to_their_cores() -> None:
    cores = {cell: type(small_model(cell).rnn) for cell in CELLS}
    assert cores == {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": SimpleRNN}


@pytest.mark.parametrize("cell", CELLS)
def test_forward_shapes(cell: str) -> None:
    model = small_model(cell)
    ids = torch.randint(0, 9, (3, 5))
    logits, hidden = model(ids)
    assert logits.shape == (3, 5, 9)
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(part.shape == (2, 3, 12) for part in parts)


@pytest.mark.parametrize("cell", CELLS)
def test_carried_state_equals_one_long_forward(cell: str) -> None:
    """Reading a text window by window with the state carried is reading it in one go."""
    model = small_model(cell).eval()
    ids = torch.randint(0, 9, (2, 20))
    whole, _ = model(ids)
    hidden = None
    pieces = []
    for start in range(0, 20, 7):
        logits, hidden = model(ids[:, start : start + 7], hidden)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_no_state_means_zero_state(cell: str) -> None:
    model = small_model(cell).eval()
    ids = torch.randint(0, 9, (2, 4))
    zeros = torch.zeros(2, 2, 12)
    explicit = (zeros, zeros.clone()) if cell == "lstm" else zeros
    torch.testing.assert_close(model(ids)[0], model(ids, explicit)[0])


def test_dropout_is_off_in_eval_mode() -> None:
    model = small_model("lstm", dropout=0.5).eval()
    ids = torch.randint(0, 9, (2, 6))
    assert torch.equal(model(ids)[0], model(ids)[0])


def test_single_layer_cores_get_no_inter_layer_dropout() -> None:
    model = small_model("gru", num_layers=1, dropout=0.3)
    assert model.rnn.dropout == 0.0
    assert model.dropout.p == 0.3


@pytest.mark.parametrize("cell", CELLS)
def test_detach_and_plain_data_round_trip(cell: str) -> None:
    model = small_model(cell)
    _, hidden = model(torch.randint(0, 9, (2, 3)))
    detached = detach_hidden(hidden)
    parts = detached if isinstance(detached, tuple) else (detached,)
    assert not any(part.requires_grad for part in parts)
    stored = hidden_to_list(hidden)
    restored = hidden_from_list(stored, torch.device("cpu"))
    assert type(restored) is type(hidden)
    for a, b in zip(hidden_to_list(restored), stored, strict=True):
        assert torch.equal(a, b)
    assert hidden_to_list(None) == [] and hidden_from_list([], torch.device("cpu")) is None


def test_parameter_count() -> None:
    model = small_model("lstm", num_layers=1)
    embedding, recurrent, head = 9 * 6, 4 * 12 * (6 + 12) + 2 * 4 * 12, 12 * 9 + 9
    assert count_parameters(model) == embedding + recurrent + head


def test_the_core_can_run_outside_an_enclosing_autocast() -> None:
    model = small_model("lstm")
    seen = core_output_dtypes(model)
    ids = torch.randint(0, 9, (2, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = model(ids)
        model.recurrent_autocast = False
        kept, hidden = model(ids)
    assert seen == [torch.bfloat16, torch.float32]
    assert mixed.dtype == kept.dtype == torch.bfloat16  # the head still runs under autocast
    assert all(part.dtype == torch.float32 for part in hidden)
    # Outside autocast the flag changes nothing.
    torch.testing.assert_close(model(ids)[0], small_model("lstm")(ids)[0], rtol=0, atol=0)
