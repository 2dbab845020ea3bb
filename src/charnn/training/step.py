"""One optimizer step, and the optimizer it takes: nothing here knows which task is trained.

A step whose loss or gradient norm is not finite is skipped: no optimizer update, and the
carried state is dropped (the loop counts the skips and stops a run that keeps skipping).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charnn.config import TrainConfig
from charnn.model.cells import Hidden
from charnn.model.network import detach_hidden
from charnn.model.precision import autocast
from charnn.training.task import Batch, Objective
from charnn.training.world import SINGLE_PROCESS, World


def build_optimizer(
    model: torch.nn.Module, config: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """train.optimizer; weight decay applies to matrices (embedding, recurrent, head), never to
    biases."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": config.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"  # one kernel for all parameters; the CPU has none for some
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, fused=fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, fused=fused)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=config.lr, momentum=config.momentum)
    return torch.optim.AdamW(groups, lr=config.lr, fused=fused)


@dataclass
class StepResult:
    loss: torch.Tensor
    grad_norm: torch.Tensor
    """The global gradient norm before clipping."""
    hidden: Hidden | None
    """The detached state to carry into the next batch (None after a skipped step)."""
    applied: bool
    """False when the loss or gradient norm was not finite and the update was skipped."""


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    hidden: Hidden | None,
    *,
    objective: Objective,
    grad_clip: float,
    precision: str,
    world: World = SINGLE_PROCESS,
) -> StepResult:
    """One step of `objective` on `batch`; skipped (no update) when the loss or gradient is not
    finite.

    In a run of several processes, `model` is wrapped in DistributedDataParallel (backward
    averages the gradients) and the loss is averaged over `world`, so all take the same step.
    """
    with autocast(batch.inputs.device, precision):
        output, hidden = objective.forward(model, batch, hidden)
    loss = objective.loss(output, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loss = world.mean(loss.detach())
    parameters = [p for p in model.parameters() if p.grad is not None]
    if grad_clip > 0:
        # Clipping the global norm keeps one exploding batch from wrecking the weights.
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    else:
        gradients = [p.grad for p in parameters if p.grad is not None]
        grad_norm = torch.nn.utils.get_total_norm(gradients)
    # The one host sync of a step: whether to update must be known before optimizer.step().
    if not bool(torch.isfinite(loss) & torch.isfinite(grad_norm)):
        optimizer.zero_grad(set_to_none=True)
        # The state that led here cannot be trusted either; the next batch starts from zeros.
        return StepResult(loss.detach(), grad_norm.detach(), None, applied=False)
    optimizer.step()
    carried = detach_hidden(hidden) if hidden is not None else None
    return StepResult(loss.detach(), grad_norm.detach(), carried, applied=True)
