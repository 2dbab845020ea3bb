"""The models both export formats trace, with only standard PyTorch modules inside (charnn's
SimpleRNN becomes nn.RNN with the same weights): CharRNN with a fixed (ids, h, c) signature, and
CharClassifier as it is, (ids, lengths) -> logits."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN


class Portable(nn.Module):
    """CharRNN with a fixed (ids, h, c) signature and only standard PyTorch modules inside."""

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        config = model.config
        self.carries_cell_state = model.cell.carries_cell_state
        self.embedding = model.embedding
        self.rnn: nn.Module = model.rnn
        if model.cell.portable_core is not type(model.rnn):  # same parameter names and function
            self.rnn = model.cell.portable_core(
                config.embedding_dim, config.hidden_size, config.num_layers, batch_first=True
            )
            self.rnn.load_state_dict(model.rnn.state_dict())
        self.head = model.head
        self.num_layers = config.num_layers

    def replace_cores(self, replace: Callable[[nn.Module, int], nn.Module]) -> None:
        """As CharClassifier.replace_cores: the exporters swap the core the same way."""
        self.rnn = replace(self.rnn, self.num_layers)

    def forward(
        self, ids: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embedded = self.embedding(ids)  # (B, T, E)
        if self.carries_cell_state:
            output, (h, c) = self.rnn(embedded, (h, c))
        else:
            output, h = self.rnn(embedded, h)
        return self.head(output), h, c  # (B, T, V)


def portable_classifier(model: CharClassifier) -> CharClassifier:
    """A copy of `model` whose recurrent cores are the cell's standard PyTorch module."""
    portable = copy.deepcopy(model)
    core = model.cell.portable_core

    def standard(module: nn.Module, num_layers: int) -> nn.Module:
        if type(module) is core:
            return module
        config = model.config
        replacement = core(
            module.input_size,
            config.hidden_size,
            num_layers,
            batch_first=True,
            dropout=config.dropout if num_layers > 1 else 0.0,
        )
        replacement.load_state_dict(module.state_dict())
        return replacement

    portable.replace_cores(standard)
    return portable.eval()
