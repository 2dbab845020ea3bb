"""A lean one-character-at-a-time view of a CharRNN, for generation.

Calling `nn.LSTM` with a window of one character pays the module's fixed costs (argument checks,
weight layout, the fused kernel's setup) for very little arithmetic. Sampling does exactly that,
once per character, so it does the cell arithmetic itself instead:

- the first layer's input projection of every character, embedding included, is precomputed
  once into a table (V, G*H), so it becomes a row lookup;
- each deeper layer's input projection is one matrix product, and each layer's recurrent
  product another (fused into the same addmm);
- the cell's gates follow PyTorch's definitions of LSTM (i, f, g, o), GRU (r, z, n) and the
  tanh RNN, so the logits equal those of the full model (tested against a plain forward pass).
"""

from __future__ import annotations

import torch

from charnn.model import CharRNN, Hidden


class Stepper:
    """Feeds one id per stream per call: `step(ids (N,)) -> logits (N, V)`, carrying the state."""

    def __init__(self, model: CharRNN, hidden: Hidden) -> None:
        self.cell = model.config.cell
        self.num_layers = model.config.num_layers
        rnn, hidden_size = model.rnn, model.config.hidden_size
        self.hidden_size = hidden_size
        with torch.inference_mode():
            self.weights_ih = [getattr(rnn, f"weight_ih_l{k}").t() for k in range(self.num_layers)]
            self.weights_hh = [getattr(rnn, f"weight_hh_l{k}").t() for k in range(self.num_layers)]
            biases_ih = [getattr(rnn, f"bias_ih_l{k}") for k in range(self.num_layers)]
            biases_hh = [getattr(rnn, f"bias_hh_l{k}") for k in range(self.num_layers)]
            if self.cell == "gru":
                # r and z take both biases; n takes b_hn inside r * (...), so it stays apart.
                rz = slice(0, 2 * hidden_size)
                self.input_biases = [
                    torch.cat([b_ih[rz] + b_hh[rz], b_ih[2 * hidden_size :]])
                    for b_ih, b_hh in zip(biases_ih, biases_hh, strict=True)
                ]
                self.new_gate_biases = [b_hh[2 * hidden_size :] for b_hh in biases_hh]
            else:
                self.input_biases = [
                    b_ih + b_hh for b_ih, b_hh in zip(biases_ih, biases_hh, strict=True)
                ]
            # (V, G*H): the first layer's input projection of each character, bias included.
            self.first_layer_table = torch.addmm(
                self.input_biases[0], model.embedding.weight, self.weights_ih[0]
            )
            self.head_weight = model.head.weight.t()
            self.head_bias = model.head.bias
        if isinstance(hidden, tuple):
            self.h = list(hidden[0].unbind(0))
            self.c = list(hidden[1].unbind(0))
        else:
            self.h = list(hidden.unbind(0))
            self.c = []

    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (N,) -> next-character logits (N, V); the state moves one character on."""
        for layer in range(self.num_layers):
            if layer == 0:
                projected = self.first_layer_table.index_select(0, ids)  # (N, G*H)
            else:
                projected = torch.addmm(
                    self.input_biases[layer], self.h[layer - 1], self.weights_ih[layer]
                )
            self.h[layer] = self._cell(layer, projected)
        return torch.addmm(self.head_bias, self.h[-1], self.head_weight)  # (N, V)

    def _cell(self, layer: int, projected: torch.Tensor) -> torch.Tensor:
        h, recurrent = self.h[layer], self.weights_hh[layer]
        size = self.hidden_size
        if self.cell == "rnn":
            return torch.addmm(projected, h, recurrent).tanh_()
        if self.cell == "lstm":
            gates = torch.addmm(projected, h, recurrent)  # (N, 4H): i, f, g, o
            sigmoids = gates.sigmoid()
            candidate = gates[:, 2 * size : 3 * size].tanh()
            c = torch.addcmul(
                sigmoids[:, size : 2 * size] * self.c[layer], sigmoids[:, :size], candidate
            )
            self.c[layer] = c
            return sigmoids[:, 3 * size :] * c.tanh()
        # GRU: r and z from both projections, n = tanh(x_n + r * (h W_hn + b_hn)).
        recurrent_part = h @ recurrent  # (N, 3H)
        rz = (projected[:, : 2 * size] + recurrent_part[:, : 2 * size]).sigmoid_()
        reset, update = rz[:, :size], rz[:, size:]
        new = torch.addcmul(
            projected[:, 2 * size :],
            reset,
            recurrent_part[:, 2 * size :] + self.new_gate_biases[layer],
        ).tanh_()
        return torch.lerp(new, h, update)  # (1 - z) * n + z * h
