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
  each weight row once, which measured faster on a CPU than the (out, in) order the modules
  store;
- on a CPU with more than one thread, one stream's products each run as two half-width
  products in one batched call: MKL runs a one-row product on one thread, while PyTorch
  spreads a batch over its threads, so two cores read half the weights each;
- the state and every intermediate live in buffers made once and updated in place, with their
  gate views cut once: at one stream, a step's time beyond reading the weights is fixed costs
  per operation, and allocating results and slicing views were a good share of them;
- every tanh is taken as 2 * sigmoid(2x) - 1, with the doubling folded into the weights once
  (see `_tanh_from_doubled`): an LSTM layer then takes one sigmoid over all four gates;
- the cell's gates follow PyTorch's definitions of LSTM (i, f, g, o), GRU (r, z, n) and the
  tanh RNN, so the logits equal those of the full model (tested against a plain forward pass).

At one stream, the time per character is mostly reading the weights, once per character; over
many streams, it is mostly the products' arithmetic.
"""

from __future__ import annotations

import functools

import torch

from charnn.model.cells import Hidden, hidden_parts
from charnn.model.network import CharRNN

SPLIT_ONE_STREAM = True
"""Split one stream's products across two threads on a CPU (see `_Product`). It earned its
place end to end (BENCHMARKS.md's sampling table, "split" column); scripts/bench.py turns it
off to measure that."""


def _tanh_from_doubled(
    doubled: torch.Tensor, minus_one: torch.Tensor, *, out: torch.Tensor
) -> torch.Tensor:
    """tanh(x) = 2 * sigmoid(2x) - 1, from 2x: `out` may be `doubled` itself.

    On a CPU, PyTorch's tanh is much slower per element than its sigmoid, so over many
    streams this sigmoid and add take less time than one tanh; on one row, where a step's
    operations are mostly fixed costs, the two took about the same when measured side by side.
    """
    torch.sigmoid(doubled, out=out)
    return torch.add(minus_one, out, alpha=2, out=out)


class _Product:
    """One fixed product of a step, `out = bias + rows @ weight` (or `out += rows @ weight`
    without a bias), between buffers that are updated in place: `run()` takes no arguments.

    rows (N, K), out (N, M). The weight is given as the modules store it, one or more (M, K_b)
    blocks whose inputs sit side by side in `rows` (K = the sum of the K_b), and `column_scale`
    (M,) multiplies its columns; both are copied once, in one pass per block, to (K, M), so that
    a one-row product streams each weight row once, which measured faster on a CPU than the
    (out, in) order the modules store. With `parts` > 1 (one row only), the columns are split
    into `parts` blocks and the product runs as one batched call, (P, 1, K) @ (P, K, M/P),
    writing straight into `out`: for one row, (P, 1, M/P) blocks laid side by side are exactly
    out's memory.
    """

    def __init__(
        self,
        rows: torch.Tensor,
        blocks: list[torch.Tensor],
        column_scale: torch.Tensor,
        out: torch.Tensor,
        bias: torch.Tensor | None,
        *,
        parts: int,
    ) -> None:
        self._bias = bias
        self._rows, self._out = rows, out
        self._batched = False
        width = column_scale.shape[0]
        if parts > 1 and (rows.shape[0] != 1 or width % parts):
            parts = 1
        block_width = width // parts
        depth = sum(block.shape[1] for block in blocks)
        # (P, K, M/P): part p holds columns p*M/P..(p+1)*M/P of the (K, M) weight.
        self.weight = out.new_empty(parts, depth, block_width)
        first = 0
        for block in blocks:  # (M, K_b) -> rows first..first+K_b of every part
            last = first + block.shape[1]
            for part, columns in enumerate(block.split(block_width)):  # (M/P, K_b) each
                # A plain 2-D transposed copy: PyTorch copies it tile by tile, several times
                # faster than a strided multiply into the same place.
                self.weight[part, first:last].copy_(columns.t())
            first = last
        self.weight.mul_(column_scale.view(parts, 1, block_width))
        if parts == 1:
            self.weight = self.weight[0]  # (K, M)
        else:
            self._rows = rows.unsqueeze(0).expand(parts, 1, -1)  # (P, 1, K)
            self._out = out.view(1, parts, block_width).permute(1, 0, 2)  # (P, 1, M/P)
            if bias is not None:
                self._bias = bias.view(parts, 1, block_width)
            self._batched = True

    def run(self) -> None:
        if self._batched:
            if self._bias is None:
                self._out.baddbmm_(self._rows, self.weight)
            else:
                torch.baddbmm(self._bias, self._rows, self.weight, out=self._out)
        elif self._bias is None:
            self._out.addmm_(self._rows, self.weight)
        else:
            torch.addmm(self._bias, self._rows, self.weight, out=self._out)


class Stepper:
    """Feeds one id per stream per call: `step(ids (N,)) -> logits (N, V)`, carrying the state."""

    def __init__(self, model: CharRNN, hidden: Hidden, *, logit_scale: float = 1.0) -> None:
        """Start from `hidden`. The head's weights and bias are multiplied by `logit_scale`
        once, so that every step returns logits * logit_scale (the sampler's 1 / temperature)
        at no cost per character."""
        self.cell = cell = model.cell
        self.num_layers = model.config.num_layers
        self.hidden_size = size = model.config.hidden_size
        rnn, layers = model.rnn, range(self.num_layers)
        parts = hidden_parts(hidden)
        self.num_streams = parts[0].shape[1]
        on_cpu = parts[0].device.type == "cpu"
        # The modules' own (G*H, in) weights: each `_Product` copies its own once.
        weights_ih = [getattr(rnn, f"weight_ih_l{k}") for k in layers]
        weights_hh = [getattr(rnn, f"weight_hh_l{k}") for k in layers]
        with torch.inference_mode():
            biases_ih = [getattr(rnn, f"bias_ih_l{k}") for k in layers]
            biases_hh = [getattr(rnn, f"bias_hh_l{k}") for k in layers]
            if not cell.reset_holds_recurrent_bias:
                # One bias per layer. (The GRU's b_hn sits inside the reset product,
                # n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), so each bias stays with its
                # own product there.)
                biases_ih = [b_ih + b_hh for b_ih, b_hh in zip(biases_ih, biases_hh, strict=True)]
            # Every tanh is taken as 2 * sigmoid(2x) - 1 (see _tanh_from_doubled): the columns
            # that feed one, the cell's tanh gate (all of the tanh RNN's, the LSTM's g, the
            # GRU's n), are doubled once, in the copies made here. (Doubling is exact in
            # floating point, so doubling before or after a product gives the same bits.)
            doubled = torch.ones_like(biases_hh[0])  # (G*H,)
            doubled[cell.tanh_gate * size : (cell.tanh_gate + 1) * size] = 2.0
            # (V, G*H): the first layer's input projection of each character, bias included.
            table = torch.addmm(biases_ih[0], model.embedding.weight, weights_ih[0].t())
            self._first_layer_table = table.mul_(doubled)
            biases_ih, biases_hh = (
                [bias * doubled for bias in biases] for biases in (biases_ih, biases_hh)
            )
            head = model.head.weight  # (V, H)
            self.head_weight = torch.mul(
                head.t(), logit_scale, out=head.new_empty(size, len(head))
            )  # (H, V)
            self.head_bias = model.head.bias * logit_scale  # (V,)
            # Layer k's state is features k*H..(k+1)*H of one (N, L*H) buffer.
            self._states = torch.cat(parts[0].unbind(0), dim=1)
            # The LSTM's cell states, doubled like the pre-activations: tanh(c) is then a
            # sigmoid of the state as it is.
            self._doubled_c = [2 * state for state in parts[1].unbind(0)] if len(parts) == 2 else []
            self._minus_one = self._states.new_tensor(-1.0)
        self.h = [self._states[:, k * size : (k + 1) * size] for k in layers]
        width = table.shape[1]
        self._projected = [self._new_buffer(width) for _ in layers]  # (N, G*H)
        if cell.reset_holds_recurrent_bias:
            self._recurrent = [self._new_buffer(width) for _ in layers]  # G*H features
        if cell.carries_cell_state:
            self._tanh_c = [self._new_buffer(size) for _ in layers]
        self._gates = [self._cut_gates(layer) for layer in layers]

        split = 2 if SPLIT_ONE_STREAM and on_cpu and torch.get_num_threads() > 1 else 1
        product = functools.partial(_Product, parts=split)
        with torch.inference_mode():
            # What each layer's product adds to `_projected` (layer 0: after the table lookup).
            self._products: list[_Product | None] = []
            for k in layers:
                projected = self._projected[k]
                if k == 0:  # the table row holds the input part and the bias
                    recurrent = (
                        None
                        if cell.reset_holds_recurrent_bias
                        else product(self.h[0], [weights_hh[0]], doubled, projected, None)
                    )
                    self._products.append(recurrent)
                elif cell.reset_holds_recurrent_bias:
                    self._products.append(
                        product(self.h[k - 1], [weights_ih[k]], doubled, projected, biases_ih[k])
                    )
                else:  # one product: [h_below, h_own] (2H features) by [W_ih, W_hh]
                    below_and_own = self._states[:, (k - 1) * size : (k + 1) * size]
                    self._products.append(
                        product(
                            below_and_own,
                            [weights_ih[k], weights_hh[k]],
                            doubled,
                            projected,
                            biases_ih[k],
                        )
                    )
            self._recurrent_products: list[_Product] = []
            if cell.reset_holds_recurrent_bias:  # h W_hh + b_hh, kept apart for the reset gate
                self._recurrent_products = [
                    product(self.h[k], [weights_hh[k]], doubled, self._recurrent[k], biases_hh[k])
                    for k in layers
                ]

    @property
    def products(self) -> list[_Product]:
        """Every product of a step but the head's, in no particular order."""
        return [p for p in [*self._products, *self._recurrent_products] if p is not None]

    def _new_buffer(self, width: int) -> torch.Tensor:
        """An empty (N, width) buffer."""
        return self._states.new_empty(self.num_streams, width)

    def _cut_gates(self, layer: int) -> dict[str, torch.Tensor]:
        """Views of one layer's buffers, one per gate."""
        size = self.hidden_size

        def gate(buffer: torch.Tensor, first: int, last: int) -> torch.Tensor:
            """Blocks first..last of H features."""
            return buffer[:, first * size : last * size]

        projected = self._projected[layer]
        # The LSTM's candidate holds sigmoid(2 g) after the step's sigmoid (g = 2 * it - 1);
        # the GRU's reset and update hold their sigmoids.
        gates = {name: gate(projected, k, k + 1) for k, name in enumerate(self.cell.gates)}
        if self.cell.reset_holds_recurrent_bias:  # the GRU's (r, z) and n, recurrent parts apart
            recurrent = self._recurrent[layer]
            gates |= {
                "rz": gate(projected, 0, 2),
                "recurrent_rz": gate(recurrent, 0, 2),
                "recurrent_new": gate(recurrent, 2, 3),
            }
        return gates

    def step(self, ids: torch.Tensor, head_bias: torch.Tensor | None = None) -> torch.Tensor:
        """ids (N,) -> next-character logits (N, V); the state moves one character on.

        `head_bias` (N, V), when given, stands in for the head's own bias in its addmm: the
        sampler passes that bias plus its noise, so adding the noise costs no extra operation.
        """
        for layer in range(self.num_layers):
            projected = self._projected[layer]
            if layer == 0:
                torch.index_select(self._first_layer_table, 0, ids, out=projected)
            product = self._products[layer]
            if product is not None:
                product.run()
            self._cell(layer, projected)
        return self._head(self.head_bias if head_bias is None else head_bias)

    def _head(self, bias: torch.Tensor) -> torch.Tensor:
        """The last layer's state through the head: logits (N, V), `bias` (V,) or (N, V)."""
        return torch.addmm(bias, self.h[-1], self.head_weight)

    def _cell(self, layer: int, projected: torch.Tensor) -> None:
        """Move the layer's h (and c) one step on, in place, from its gates' pre-activations:
        `projected` holds both products (LSTM, RNN) or the input product (GRU)."""
        h, gates = self.h[layer], self._gates[layer]
        if self.cell.gate_count == 1:  # the tanh RNN: h = tanh(both products)
            _tanh_from_doubled(projected, self._minus_one, out=h)
        elif self.cell.carries_cell_state:  # the LSTM
            projected.sigmoid_()  # i, f, 2 g and o
            # 2c' = f * 2c + 2 i g, with g = 2 * sigmoid(2 g) - 1
            doubled_c = self._doubled_c[layer].mul_(gates["forget"])
            doubled_c.addcmul_(gates["input"], gates["candidate"], value=4)
            doubled_c.sub_(gates["input"], alpha=2)
            tanh_c = _tanh_from_doubled(doubled_c, self._minus_one, out=self._tanh_c[layer])
            torch.mul(gates["output"], tanh_c, out=h)
        else:  # GRU: r and z from both products, n = tanh(x_n + r * (h W_hn + b_hn))
            self._recurrent_products[layer].run()  # into self._recurrent[layer]
            gates["rz"].add_(gates["recurrent_rz"]).sigmoid_()
            new = gates["new"].addcmul_(gates["reset"], gates["recurrent_new"])  # 2 (x_n + ...)
            _tanh_from_doubled(new, self._minus_one, out=new)
            torch.lerp(new, h, gates["update"], out=h)  # (1 - z) * n + z * h


class ModelStep:
    """The same interface as `Stepper`, calling the model itself on one character per stream:
    what sampling uses where the lean step has not been measured faster."""

    def __init__(self, model: CharRNN, hidden: Hidden, *, logit_scale: float = 1.0) -> None:
        self._model, self._hidden, self._scale = model, hidden, logit_scale
        self.num_streams = hidden_parts(hidden)[0].shape[1]
        with torch.inference_mode():
            self.head_bias = model.head.bias * logit_scale  # (V,)

    def step(self, ids: torch.Tensor, head_bias: torch.Tensor | None = None) -> torch.Tensor:
        """ids (N,) -> next-character logits (N, V), times `logit_scale`; the state moves on.
        `head_bias` (N, V), when given, stands in for the head's own bias, as in `Stepper`."""
        logits, self._hidden = self._model(ids.unsqueeze(1), self._hidden)  # (N, 1, V)
        scaled = logits[:, 0] * self._scale
        return scaled if head_bias is None else scaled + (head_bias - self.head_bias)


LEAN_STEP_DEVICES = ("cpu",)
"""Where sampling uses the lean `Stepper`: measured faster than the model itself on a CPU
(BENCHMARKS.md, sampling). Elsewhere (CUDA, MPS) it has not been measured, so sampling steps the
model itself."""


def sampling_step(
    model: CharRNN, hidden: Hidden, *, logit_scale: float = 1.0
) -> Stepper | ModelStep:
    """The one-character step sampling uses on the state's device (see `LEAN_STEP_DEVICES`)."""
    if hidden_parts(hidden)[0].device.type in LEAN_STEP_DEVICES:
        return Stepper(model, hidden, logit_scale=logit_scale)
    return ModelStep(model, hidden, logit_scale=logit_scale)
