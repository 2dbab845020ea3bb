"""SimpleRNN: charnn's own Elman RNN with tanh, a drop-in for `nn.RNN(nonlinearity="tanh")`.

Each layer computes

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

with nn.RNN's parameter names, shapes, initialisation and call signature, so state dicts copy
across and the two compute the same function. The input projection of every time step is one
matrix product over the whole window; only the recurrent product runs step by step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SimpleRNN(nn.Module):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size
            self.register_parameter(
                f"weight_ih_l{layer}", nn.Parameter(torch.empty(hidden_size, layer_input))
            )
            self.register_parameter(
                f"weight_hh_l{layer}", nn.Parameter(torch.empty(hidden_size, hidden_size))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(hidden_size)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # nn.RNN's initialisation
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}, dropout={self.dropout}"
        )

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """input (B, T, I) if batch_first else (T, B, I), or unbatched (T, I);
        hx (num_layers, B, H) or (num_layers, H). Returns (output, h_n) shaped like nn.RNN's."""
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)  # (T, 1, I)
            hx = None if hx is None else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (T, B, I): the loop below runs over dim 0
        steps, batch = input.shape[0], input.shape[1]
        if hx is None:
            hx = input.new_zeros(self.num_layers, batch, self.hidden_size)
        layer_input = input
        finals = []
        for layer in range(self.num_layers):
            weight_ih = getattr(self, f"weight_ih_l{layer}")
            weight_hh = getattr(self, f"weight_hh_l{layer}")
            # One product for the whole window, both biases folded into it.
            projected = F.linear(layer_input, weight_ih)  # (T, B, H)
            if self.bias:
                projected = projected + (
                    getattr(self, f"bias_ih_l{layer}") + getattr(self, f"bias_hh_l{layer}")
                )
            hidden = hx[layer]  # (B, H)
            outputs = []
            for step in range(steps):
                hidden = torch.tanh(torch.addmm(projected[step], hidden, weight_hh.t()))
                outputs.append(hidden)
            finals.append(hidden)
            layer_input = torch.stack(outputs)  # (T, B, H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output, h_n = layer_input, torch.stack(finals)
        if unbatched:
            return output.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n
