"""SimpleRNN: charnn's own Elman RNN with tanh, a drop-in for `nn.RNN(nonlinearity="tanh")`.

Each layer computes

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

with nn.RNN's parameter names, shapes, initialisation and call signature, so state dicts copy
across and the two compute the same function. The input projection of every time step is one
matrix product over the whole window; only the recurrent product runs step by step, inside one
autograd function (`TanhRecurrence`) with a hand-written backward pass through time, so autograd
records one node per layer and window instead of a few per time step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TanhRecurrence(torch.autograd.Function):
    """outputs[t] = tanh(projected[t] + outputs[t-1] @ weight_hh^T), with outputs[-1] = h0.

    Forward: one addmm and one in-place tanh per step. Backward through time: with
    dz[t] = (grad[t] + dz[t+1] @ weight_hh) * (1 - outputs[t]^2), one addmm and one multiply per
    step; the weight gradient is then a single product over the whole window.
    """

    # Under autocast (CUDA's or the CPU's), the recurrence runs in fp32: its state feeds
    # back into itself step after step, where bf16's 8-bit mantissa would compound.
    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        projected: torch.Tensor,
        h0: torch.Tensor,
        weight_hh: torch.Tensor,
    ) -> torch.Tensor:
        outputs = torch.empty_like(projected)  # (T, B, H)
        recurrent = weight_hh.t()
        hidden = h0  # (B, H)
        for step in range(projected.shape[0]):
            torch.addmm(projected[step], hidden, recurrent, out=outputs[step])
            hidden = outputs[step].tanh_()
        ctx.save_for_backward(h0, weight_hh, outputs)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    @torch.amp.custom_bwd(device_type="cuda")
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_outputs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h0, weight_hh, outputs = ctx.saved_tensors  # type: ignore[attr-defined]
        tanh_slope = 1.0 - outputs * outputs  # (T, B, H): d tanh(z) / dz, all steps at once
        grad_z = torch.empty_like(outputs)
        steps = outputs.shape[0]
        torch.mul(grad_outputs[steps - 1], tanh_slope[steps - 1], out=grad_z[steps - 1])
        for step in range(steps - 2, -1, -1):
            # The gradient reaching outputs[step]: its own, plus what step + 1 sends back.
            incoming = torch.addmm(grad_outputs[step], grad_z[step + 1], weight_hh)
            torch.mul(incoming, tanh_slope[step], out=grad_z[step])
        grad_h0 = grad_z[0] @ weight_hh
        previous = torch.cat([h0.unsqueeze(0), outputs[:-1]])  # (T, B, H): h_{t-1}
        hidden_size = outputs.shape[-1]
        grad_weight = grad_z.reshape(-1, hidden_size).t() @ previous.reshape(-1, hidden_size)
        return grad_z, grad_h0, grad_weight


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
        batch = input.shape[1]
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
            outputs = TanhRecurrence.apply(projected.contiguous(), hx[layer], weight_hh)
            finals.append(outputs[-1])
            layer_input = outputs  # (T, B, H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output, h_n = layer_input, torch.stack(finals)
        if unbatched:
            return output.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n
