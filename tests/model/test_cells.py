"""The table of cell facts agrees with the modules it describes."""

from __future__ import annotations

import pytest
import torch

from charnn import config
from charnn.model.cells import CELLS, hidden_from_parts, hidden_parts, map_hidden


def test_the_table_covers_exactly_the_cells_the_config_accepts() -> None:
    assert tuple(CELLS) == config.CELLS


@pytest.mark.parametrize("name", list(CELLS))
def test_gates_and_state_match_the_core(name: str) -> None:
    cell = CELLS[name]
    core = cell.core(4, 6, 2, batch_first=True)
    for layer in range(2):
        assert getattr(core, f"weight_ih_l{layer}").shape[0] == cell.gate_count * 6
        assert getattr(core, f"weight_hh_l{layer}").shape == (cell.gate_count * 6, 6)
    _, state = core(torch.zeros(1, 3, 4))
    assert isinstance(state, tuple) is cell.carries_cell_state
    assert 0 <= cell.tanh_gate < cell.gate_count


@pytest.mark.parametrize("name", list(CELLS))
def test_the_portable_core_computes_the_same_function(name: str) -> None:
    cell = CELLS[name]
    torch.manual_seed(0)
    core = cell.core(4, 6, 2, batch_first=True)
    portable = cell.portable_core(4, 6, 2, batch_first=True)
    portable.load_state_dict(core.state_dict())  # the same parameter names
    inputs = torch.randn(2, 5, 4)
    torch.testing.assert_close(portable(inputs)[0], core(inputs)[0])


def test_map_hidden_keeps_the_shape_of_the_state() -> None:
    h, c = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    doubled = map_hidden(lambda part: part * 2, (h, c))
    assert isinstance(doubled, tuple) and torch.equal(doubled[0], h * 2)
    assert torch.equal(doubled[1], c)
    single = map_hidden(lambda part: part + 1, h)
    assert isinstance(single, torch.Tensor) and torch.equal(single, h + 1)


def test_parts_round_trip() -> None:
    h, c = torch.ones(1, 2, 3), torch.zeros(1, 2, 3)
    assert hidden_from_parts(hidden_parts(h)) is h
    pair = hidden_from_parts(list(hidden_parts((h, c))))
    assert isinstance(pair, tuple) and pair[0] is h and pair[1] is c
