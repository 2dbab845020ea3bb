"""A lean one-character-at-a-time view of a CharRNN, for generation.

Calling `nn.LSTM` with a window of one character pays the module's fixed costs (argument checks,
weight layout, the fused kernel's setup and its scratch buffers) for very little arithmetic.
Sampling does exactly that, once per character, so it does the cell arithmetic itself instead:

- the first layer's input projection of every character, embedding included, is precomputed
  once into a table (V, G*H), so it becomes a row lookup;
- a deeper LSTM or tanh-RNN layer's input and recurrent products are one product: the layers'
  states sit side by side in one (N, L*H) buffer, so [h_below, h_own] is a view of it, and the
  two weights are stacked once into (2H, G*H). The GRU keeps two products, because its
  candidate gate needs the recurrent part on its own (r * (h W_hn + b_hn));
- the weights are copied once into (in, out) row-major order: a one-row product then streams
  each weight row once, which measured about 20% faster on a CPU than the (out, in) order the
  modules store;
- the state and every intermediate live in buffers made once and updated in place, with their
  gate views cut once: at one stream, a step's time beyond reading the weights is fixed costs
  per operation, and allocating results and slicing views were a good share of them;
- the cell's gates follow PyTorch's definitions of LSTM (i, f, g, o), GRU (r, z, n) and the
  tanh RNN, so the logits equal those of the full model (tested against a plain forward pass).

At one stream, the time per character is mostly reading the weights, once per character.
"""

from __future__ import annotations

import torch

from charnn.model import CharRNN, Hidden


def _in_out(weight: torch.Tensor) -> torch.Tensor:
    """(out, in) module weight -> a contiguous (in, out) copy, for `rows @ weight`."""
    return weight.t().contiguous()


class Stepper:
    """Feeds one id per stream per call: `step(ids (N,)) -> logits (N, V)`, carrying the state."""

    def __init__(self, model: CharRNN, hidden: Hidden, *, logit_scale: float = 1.0) -> None:
        """Start from `hidden`. The head's weights and bias are multiplied by `logit_scale`
        once, so that every step returns logits * logit_scale (the sampler's 1 / temperature)
        at no cost per character."""
        self.cell = model.config.cell
        self.num_layers = model.config.num_layers
        self.hidden_size = size = model.config.hidden_size
        rnn, layers = model.rnn, range(self.num_layers)
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        rows = parts[0].shape[1]
        with torch.inference_mode():
            weights_ih = [_in_out(getattr(rnn, f"weight_ih_l{k}")) for k in layers]
            weights_hh = [_in_out(getattr(rnn, f"weight_hh_l{k}")) for k in layers]
            biases_ih = [getattr(rnn, f"bias_ih_l{k}") for k in layers]
            biases_hh = [getattr(rnn, f"bias_hh_l{k}") for k in layers]
            self._weights_hh = weights_hh  # LSTM, RNN: only layer 0's (deeper ones: stacked)
            if self.cell == "gru":
                # n = tanh(x W_in + b_in + r * (h W_hn + b_hn)): b_hn sits inside the reset
                # product, so each bias stays with its own product.
                input_biases, self._recurrent_biases = biases_ih, biases_hh
                self._weights_ih = weights_ih  # deeper layers' (layer 0's is in the table)
            else:
                input_biases = [
                    b_ih + b_hh for b_ih, b_hh in zip(biases_ih, biases_hh, strict=True)
                ]
                # Deeper layers: [W_ih; W_hh] (2H, G*H), for [h_below, h_own] @ it.
                self._stacked_weights = {
                    k: torch.cat([weights_ih[k], weights_hh[k]]) for k in layers[1:]
                }
            self._input_biases = input_biases
            # (V, G*H): the first layer's input projection of each character, bias included.
            self._first_layer_table = torch.addmm(
                input_biases[0], model.embedding.weight, weights_ih[0]
            )
            self.head_weight = _in_out(model.head.weight * logit_scale)
            self.head_bias = model.head.bias * logit_scale
            # Layer k's state is columns k*H..(k+1)*H of one buffer.
            self._states = torch.cat(list(parts[0].unbind(0)), dim=1)  # (N, L*H)
            self.c = [state.clone() for state in parts[1].unbind(0)] if len(parts) == 2 else []
        self.h = [self._states[:, k * size : (k + 1) * size] for k in layers]  # views
        # Deeper layers' [h_below, h_own] (N, 2H), for their one stacked product.
        self._below_and_own = {
            k: self._states[:, (k - 1) * size : (k + 1) * size] for k in layers[1:]
        }
        width = self._first_layer_table.shape[1]
        self._projected = [self._states.new_empty(rows, width) for _ in layers]  # (N, G*H)
        if self.cell == "gru":
            self._recurrent = [self._states.new_empty(rows, width) for _ in layers]  # (N, 3H)
        if self.cell == "lstm":
            self._sigmoids = [self._states.new_empty(rows, width) for _ in layers]  # (N, 4H)
            self._tanh_c = [self._states.new_empty(rows, size) for _ in layers]
        self._gates = [self._cut_gates(layer) for layer in layers]

    def _cut_gates(self, layer: int) -> dict[str, torch.Tensor]:
        """Views of one layer's buffers, one per gate, in PyTorch's gate order."""
        size = self.hidden_size
        projected = self._projected[layer]
        if self.cell == "lstm":
            sigmoids = self._sigmoids[layer]
            return {
                "candidate": projected[:, 2 * size : 3 * size],  # g, tanh'd in place
                "input": sigmoids[:, :size],
                "forget": sigmoids[:, size : 2 * size],
                "output": sigmoids[:, 3 * size :],
            }
        if self.cell == "gru":
            recurrent = self._recurrent[layer]
            return {
                "rz": projected[:, : 2 * size],
                "recurrent_rz": recurrent[:, : 2 * size],
                "reset": projected[:, :size],  # after the in-place sigmoid
                "update": projected[:, size : 2 * size],
                "new": projected[:, 2 * size :],
                "recurrent_new": recurrent[:, 2 * size :],
            }
        return {}

    def step(self, ids: torch.Tensor, head_bias: torch.Tensor | None = None) -> torch.Tensor:
        """ids (N,) -> next-character logits (N, V); the state moves one character on.

        `head_bias` (N, V), when given, stands in for the head's own bias in its addmm: the
        sampler passes that bias plus its noise, so adding the noise costs no extra operation.
        """
        for layer in range(self.num_layers):
            projected = self._projected[layer]  # (N, G*H)
            if layer == 0:
                torch.index_select(self._first_layer_table, 0, ids, out=projected)
                if self.cell != "gru":
                    projected.addmm_(self.h[0], self._weights_hh[0])
            elif self.cell == "gru":
                bias, weight = self._input_biases[layer], self._weights_ih[layer]
                torch.addmm(bias, self.h[layer - 1], weight, out=projected)
            else:  # one product: [h_below, h_own] (N, 2H) @ (2H, G*H)
                bias, weight = self._input_biases[layer], self._stacked_weights[layer]
                torch.addmm(bias, self._below_and_own[layer], weight, out=projected)
            self._cell(layer, projected)
        bias = self.head_bias if head_bias is None else head_bias
        return torch.addmm(bias, self.h[-1], self.head_weight)  # (N, V)

    def _cell(self, layer: int, projected: torch.Tensor) -> None:
        """Move the layer's h (and c) one step on, in place, from its gates' pre-activations:
        `projected` holds both products (LSTM, RNN) or the input product (GRU)."""
        h, gates = self.h[layer], self._gates[layer]
        if self.cell == "rnn":
            torch.tanh(projected, out=h)
        elif self.cell == "lstm":
            torch.sigmoid(projected, out=self._sigmoids[layer])
            candidate = gates["candidate"].tanh_()
            c = self.c[layer].mul_(gates["forget"]).addcmul_(gates["input"], candidate)
            torch.mul(gates["output"], torch.tanh(c, out=self._tanh_c[layer]), out=h)
        else:  # GRU: r and z from both products, n = tanh(x_n + r * (h W_hn + b_hn))
            bias, weight = self._recurrent_biases[layer], self._weights_hh[layer]
            torch.addmm(bias, h, weight, out=self._recurrent[layer])
            gates["rz"].add_(gates["recurrent_rz"]).sigmoid_()
            gates["new"].addcmul_(gates["reset"], gates["recurrent_new"]).tanh_()
            torch.lerp(gates["new"], h, gates["update"], out=h)  # (1 - z) * n + z * h
