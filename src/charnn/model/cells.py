"""The cells charnn builds on, as one table of facts: what the network, the fast sampling step
and both exporters read instead of comparing cell names.

Every cell follows PyTorch's parameter layout: layer k has `weight_ih_l{k}` (G*H, in),
`weight_hh_l{k}` (G*H, H), `bias_ih_l{k}` and `bias_hh_l{k}` (G*H,), its G gate blocks of H
rows stacked in the order `gates` gives. The state is h (num_layers, B, H), or (h, c) of that
shape each for a cell that carries a cell state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from charnn.model.simple_rnn import SimpleRNN

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
"""h (num_layers, B, H), or (h, c) for a cell that carries a cell state."""


@dataclass(frozen=True, kw_only=True)
class Cell:
    name: str
    """The `model.cell` value."""
    title: str
    """How messages and `charnn info` name it."""
    core: type[nn.Module]
    """The recurrent module charnn trains."""
    portable_core: type[nn.Module]
    """The standard PyTorch module an export uses: the same parameter names and function."""
    gates: tuple[str, ...]
    """The gate blocks of the weights, in PyTorch's order (G = len(gates))."""
    carries_cell_state: bool
    """The state is (h, c) rather than h."""
    tanh_gate: int
    """The gate block that feeds a tanh (the LSTM's g, the GRU's n, the tanh RNN's only one)."""
    reset_holds_recurrent_bias: bool
    """The recurrent product and its bias stay apart from the input's: the GRU's
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)). Elsewhere the two biases simply add."""
    onnx_translation_in_charnn: bool
    """torch.onnx has no translation of this core's operator, so charnn supplies one."""
    compiles_faster_on_cpu: bool
    """Whether `train.compile` made it train faster on a CPU (BENCHMARKS.md)."""

    @property
    def gate_count(self) -> int:
        return len(self.gates)


CELLS: dict[str, Cell] = {
    cell.name: cell
    for cell in (
        Cell(
            name="lstm",
            title="LSTM",
            core=nn.LSTM,
            portable_core=nn.LSTM,
            gates=("input", "forget", "candidate", "output"),
            carries_cell_state=True,
            tanh_gate=2,
            reset_holds_recurrent_bias=False,
            onnx_translation_in_charnn=False,
            compiles_faster_on_cpu=False,
        ),
        Cell(
            name="gru",
            title="GRU",
            core=nn.GRU,
            portable_core=nn.GRU,
            gates=("reset", "update", "new"),
            carries_cell_state=False,
            tanh_gate=2,
            reset_holds_recurrent_bias=True,
            onnx_translation_in_charnn=False,
            compiles_faster_on_cpu=True,
        ),
        Cell(
            name="rnn",
            title="tanh RNN",
            core=SimpleRNN,
            portable_core=nn.RNN,
            gates=("new",),
            carries_cell_state=False,
            tanh_gate=0,
            reset_holds_recurrent_bias=False,
            onnx_translation_in_charnn=True,
            compiles_faster_on_cpu=False,
        ),
    )
}


def map_hidden(function: Callable[[torch.Tensor], torch.Tensor], hidden: Hidden) -> Hidden:
    """`function` applied to every tensor of a state, keeping its shape: h, or (h, c)."""
    if isinstance(hidden, tuple):
        return (function(hidden[0]), function(hidden[1]))
    return function(hidden)


def hidden_parts(hidden: Hidden) -> tuple[torch.Tensor, ...]:
    """The tensors of a state, in order: (h,) or (h, c)."""
    return hidden if isinstance(hidden, tuple) else (hidden,)


def hidden_from_parts(parts: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> Hidden:
    """The state `hidden_parts` took apart."""
    return (parts[0], parts[1]) if len(parts) == 2 else parts[0]
