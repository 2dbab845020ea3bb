"""A candidate faster GRU for the CPU, measured against nn.GRU; not adopted (see BENCHMARKS.md).

    python scripts/gru_candidate.py                # check it, time it, write BENCHMARKS.md
    python scripts/gru_candidate.py --quick --out x.md

charnn adopts a faster GRU path only if it trains at >= 1.2x nn.GRU's chars/s on the CPU while
computing the same function. This script holds the best candidate built so far, so the finding
can be rerun: `nn.GRU` subclassed (same parameters and state dicts, so checkpoints would load
either way) with each layer's recurrence in one autograd function with a hand-written backward
pass through time, the approach that made charnn's SimpleRNN faster than nn.RNN. It first checks
that the candidate equals nn.GRU (outputs, final state, every gradient, with copied weights),
then times both in the same hand-written training loop, and the forward pass alone (as eval runs
it), side by side in rounds: each ratio is the median of the rounds' ratios
(`reporting.in_rounds`).

PyTorch's GRU (r, z, n gate order, with b_hn inside the reset product):

    r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)
    z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn))
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reporting import cpu_name, in_rounds, replace_block, rerun_command

REPO_ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- gru:start -->", "<!-- gru:end -->"


class GRURecurrence(torch.autograd.Function):
    """The GRU recurrence over a window, given the input projection of every step.

    projected (T, B, 3H) = x W_ih^T + b_ih; h0 (B, H); weight_hh (3H, H); bias_hh (3H,).
    Returns outputs (T, B, H), the state after each step.
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        projected: torch.Tensor,
        h0: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_hh: torch.Tensor,
    ) -> torch.Tensor:
        steps, size = projected.shape[0], h0.shape[-1]
        outputs = projected.new_empty(steps, *h0.shape)  # (T, B, H)
        recurrent_all = torch.empty_like(projected)  # (T, B, 3H): h W_hh^T + b_hh per step
        rz_all = projected.new_empty(steps, h0.shape[0], 2 * size)  # (T, B, 2H)
        new_all = torch.empty_like(outputs)  # (T, B, H): n per step
        weight_t = weight_hh.t()
        hidden = h0
        for step in range(steps):
            recurrent = torch.addmm(bias_hh, hidden, weight_t, out=recurrent_all[step])
            rz = torch.add(
                projected[step, :, : 2 * size], recurrent[:, : 2 * size], out=rz_all[step]
            ).sigmoid_()
            new = torch.addcmul(
                projected[step, :, 2 * size :],
                rz[:, :size],
                recurrent[:, 2 * size :],
                out=new_all[step],
            ).tanh_()
            hidden = torch.lerp(new, hidden, rz[:, size:], out=outputs[step])
        ctx.save_for_backward(h0, weight_hh, outputs, recurrent_all, rz_all, new_all)
        return outputs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_outputs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        h0, weight_hh, outputs, recurrent_all, rz_all, new_all = ctx.saved_tensors  # type: ignore[attr-defined]
        steps, size = outputs.shape[0], outputs.shape[-1]
        previous = torch.cat([h0.unsqueeze(0), outputs[:-1]])  # (T, B, H): h_{t-1}
        reset, update = rz_all[..., :size], rz_all[..., size:]
        recurrent_new = recurrent_all[..., 2 * size :]  # h W_hn + b_hn
        # Everything that does not depend on the incoming gradient, for all steps at once,
        # so that each step multiplies by one factor per gate:
        #   d pre(n) = dh * (1 - z) * (1 - n^2)
        #   d pre(z) = dh * (h_{t-1} - n) * z (1 - z)
        #   d pre(r) = d pre(n) * (h W_hn + b_hn) * r (1 - r)
        new_factor = (1.0 - update) * (1.0 - new_all * new_all)
        update_factor = (previous - new_all) * update * (1.0 - update)
        reset_factor = recurrent_new * reset * (1.0 - reset)
        grad_recurrent = torch.empty_like(recurrent_all)  # (T, B, 3H): d(h W_hh^T + b_hh)
        grad_new_pre = torch.empty_like(outputs)  # (T, B, H): d pre(n), = d(x W_in + b_in)
        grad_h = grad_outputs[steps - 1]
        for step in range(steps - 1, -1, -1):
            new_pre = torch.mul(grad_h, new_factor[step], out=grad_new_pre[step])
            torch.cat(
                [
                    new_pre * reset_factor[step],  # d pre(r)
                    grad_h * update_factor[step],  # d pre(z)
                    new_pre * reset[step],  # d(h W_hn + b_hn)
                ],
                dim=-1,
                out=grad_recurrent[step],
            )
            # dh_{t-1}: through z * h directly, through the recurrent product, and its own.
            direct = (
                grad_h * update[step]
                if step == 0
                else torch.addcmul(grad_outputs[step - 1], grad_h, update[step])
            )
            grad_h = torch.addmm(direct, grad_recurrent[step], weight_hh)
        grad_projected = torch.cat([grad_recurrent[..., : 2 * size], grad_new_pre], dim=-1)
        flat_grad = grad_recurrent.reshape(-1, 3 * size)
        grad_weight = flat_grad.t() @ previous.reshape(-1, size)
        return grad_projected, grad_h, grad_weight, flat_grad.sum(0)


class CandidateGRU(nn.GRU):
    """`nn.GRU`, with the recurrence above for float32 on the CPU (cuDNN elsewhere)."""

    def forward(  # type: ignore[override]
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._lean_path_applies(input):
            return super().forward(input, hx)
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)  # (T, 1, I)
            hx = None if hx is None else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (T, B, I): the recurrence runs over dim 0
        if hx is None:
            hx = input.new_zeros(self.num_layers, input.shape[1], self.hidden_size)
        layer_input, finals = input, []
        for layer in range(self.num_layers):
            projected = F.linear(
                layer_input,
                getattr(self, f"weight_ih_l{layer}"),
                getattr(self, f"bias_ih_l{layer}"),
            )  # (T, B, 3H): one product for the whole window
            outputs = GRURecurrence.apply(
                projected.contiguous(),
                hx[layer].contiguous(),
                getattr(self, f"weight_hh_l{layer}"),
                getattr(self, f"bias_hh_l{layer}"),
            )
            finals.append(outputs[-1])
            layer_input = outputs
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output, h_n = layer_input, torch.stack(finals)
        if unbatched:
            return output.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n

    def _lean_path_applies(self, input: torch.Tensor) -> bool:
        return (
            isinstance(input, torch.Tensor)  # not a PackedSequence
            and input.device.type == "cpu"
            and input.dtype == torch.float32
            and self.bias
            and not self.bidirectional
            and input.dim() in (2, 3)
        )


# -- checking and timing ------------------------------------------------------------------------


def check_same_function() -> float:
    """The largest difference from nn.GRU over outputs, final states and gradients."""
    worst = 0.0
    for layers in (1, 3):
        torch.manual_seed(layers)
        reference = nn.GRU(5, 7, layers, batch_first=True)
        candidate = CandidateGRU(5, 7, layers, batch_first=True)
        candidate.load_state_dict(reference.state_dict())
        inputs = torch.randn(4, 9, 5)
        h0 = torch.randn(layers, 4, 7)
        grads = []
        for module in (reference, candidate):
            x, h = inputs.clone().requires_grad_(), h0.clone().requires_grad_()
            output, final = module(x, h)
            torch.manual_seed(0)
            loss = (output * torch.randn_like(output)).sum() + (
                final * torch.randn_like(final)
            ).sum()
            loss.backward()
            grads.append([output, final, x.grad, h.grad, *(p.grad for p in module.parameters())])
        worst = max(worst, *((a - b).abs().max().item() for a, b in zip(*grads, strict=True)))
    if worst > 1e-4:
        sys.exit(f"the candidate does not compute nn.GRU's function (difference {worst:g})")
    return worst


def train_chars_per_s(core_type: type[nn.GRU], hidden: int, steps: int, batch: int) -> float:
    torch.manual_seed(0)
    embedding, head = nn.Embedding(65, 64), nn.Linear(hidden, 65)
    core = core_type(64, hidden, 2, batch_first=True)
    parameters = [*embedding.parameters(), *core.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    ids = torch.randint(0, 65, (batch, 65))

    def step(state: torch.Tensor | None) -> torch.Tensor:
        output, state = core(embedding(ids[:, :-1]), state)
        logits = head(output)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, 65), ids[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        return state.detach()

    state = step(None)  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        state = step(state)
    return steps * batch * 64 / (time.perf_counter() - started)


def eval_chars_per_s(core_type: type[nn.GRU], hidden: int, length: int) -> float:
    torch.manual_seed(0)
    core = core_type(64, hidden, 2, batch_first=True).eval()
    inputs = torch.randn(1, length, 64)
    with torch.inference_mode():
        core(inputs)
        started = time.perf_counter()
        core(inputs)
    return length / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    # Seven rounds: a timing is a couple of seconds, and the candidate's bar (1.2x) is close.
    sizes, steps, rounds, length = ((32,), 2, 1, 256) if args.quick else ((256, 512), 20, 7, 8192)
    worst = check_same_function()
    rows = []
    for hidden in sizes:
        cores = {"nn.GRU": nn.GRU, "candidate": CandidateGRU}
        trained = in_rounds(
            {
                name: functools.partial(train_chars_per_s, core, hidden, steps, batch=32)
                for name, core in cores.items()
            },
            rounds,
        )
        evaluated = in_rounds(
            {
                name: functools.partial(eval_chars_per_s, core, hidden, length)
                for name, core in cores.items()
            },
            rounds,
        )
        trained.log(f"2x{hidden} train")
        evaluated.log(f"2x{hidden} eval")
        rows.append(
            f"| 2x{hidden} | {trained.median('nn.GRU'):,.0f} | "
            f"{trained.median('candidate'):,.0f} | "
            f"**{trained.ratio('candidate', 'nn.GRU'):.2f}** | "
            f"{trained.ratio_range('candidate', 'nn.GRU')} | "
            f"{evaluated.median('nn.GRU'):,.0f} | {evaluated.median('candidate'):,.0f} | "
            f"**{evaluated.ratio('candidate', 'nn.GRU'):.2f}** |"
        )
    command = rerun_command(__file__, argv)
    table = "\n".join(
        [
            f"Measured on {cpu_name()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, with `{command}`. Batch 32 x seq_len 64, "
            f"embedding 64, AdamW with clipping; eval: one stream of {length:,} characters. "
            f"Timed in {rounds} rounds: speeds are medians, ratios the median of the rounds' "
            "ratios, beside the lowest and highest round for training. "
            f"Largest difference from nn.GRU (outputs and gradients): {worst:.1e}.",
            "",
            "| layers x hidden | nn.GRU train chars/s | candidate | candidate / nn.GRU | "
            "rounds | nn.GRU eval chars/s | candidate | candidate / nn.GRU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    replace_block(args.out, START, END, table)
    print(table)


if __name__ == "__main__":
    main()
