"""One optimizer step: clipping, weight decay, and skipping a step that is not finite."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from charnn.config import RunConfig, TrainConfig
from charnn.model.network import CharRNN
from charnn.training.step import build_optimizer, train_step
from charnn.training.task import NEXT_CHARACTER, Batch

NEXT_CHAR_FP32: dict[str, Any] = {"objective": NEXT_CHARACTER, "precision": "fp32"}


def test_weight_decay_applies_to_matrices_only(tiny_config: RunConfig) -> None:
    model = CharRNN(tiny_config.model, vocab_size=10)
    optimizer = build_optimizer(model, TrainConfig(weight_decay=0.1), torch.device("cpu"))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])


def test_train_step_clips_the_global_norm_and_reports_it_unclipped(tiny_config: RunConfig) -> None:
    torch.manual_seed(0)
    model = CharRNN(tiny_config.model, vocab_size=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: inspect grads, keep weights
    inputs, targets = torch.randint(0, 10, (4, 8)), torch.randint(0, 10, (4, 8))
    batch = Batch(inputs, targets)
    result = train_step(model, optimizer, batch, None, grad_clip=1e-3, **NEXT_CHAR_FP32)
    norm = result.grad_norm
    grads = [p.grad for p in model.parameters()]
    assert result.applied and norm.item() > 1e-3
    assert torch.nn.utils.get_total_norm(grads).item() == pytest.approx(1e-3, rel=1e-4)
    # An untrained model is near uniform.
    assert result.loss.item() == pytest.approx(math.log(10), rel=0.2)
    assert result.hidden is not None and not any(part.requires_grad for part in result.hidden)
    unclipped = train_step(model, optimizer, batch, None, grad_clip=0.0, **NEXT_CHAR_FP32).grad_norm
    assert unclipped.item() == pytest.approx(norm.item(), rel=1e-5)
    assert torch.nn.utils.get_total_norm(
        [p.grad for p in model.parameters()]
    ).item() == pytest.approx(unclipped.item(), rel=1e-5)


def test_a_non_finite_step_is_skipped(tiny_config: RunConfig) -> None:
    torch.manual_seed(0)
    model = CharRNN(tiny_config.model, vocab_size=10)
    optimizer = build_optimizer(model, tiny_config.train, torch.device("cpu"))
    inputs, targets = torch.randint(0, 10, (4, 8)), torch.randint(0, 10, (4, 8))
    batch = Batch(inputs, targets)
    train_step(model, optimizer, batch, None, grad_clip=1.0, **NEXT_CHAR_FP32)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    moments = optimizer.state_dict()["state"][0]["exp_avg"].clone()
    with torch.no_grad():
        model.embedding.weight[inputs[0, 0]] = float("inf")  # poisons this window only
    weights["embedding.weight"] = model.embedding.weight.detach().clone()
    result = train_step(model, optimizer, batch, None, grad_clip=1.0, **NEXT_CHAR_FP32)
    assert not result.applied and result.hidden is None
    assert not math.isfinite(result.loss.item())
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name  # no update at all
    state = optimizer.state_dict()["state"][0]
    assert torch.equal(state["exp_avg"], moments) and state["step"].item() == 1
