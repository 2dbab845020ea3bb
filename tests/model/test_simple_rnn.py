"""SimpleRNN computes the same function as nn.RNN(nonlinearity="tanh") given the same weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from charnn.model.simple_rnn import SimpleRNN, TanhRecurrence

TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


def twin_modules(num_layers: int, batch_first: bool, bias: bool = True) -> tuple[SimpleRNN, nn.RNN]:
    torch.manual_seed(0)
    ours = SimpleRNN(5, 7, num_layers, bias=bias, batch_first=batch_first)
    reference = nn.RNN(5, 7, num_layers, nonlinearity="tanh", bias=bias, batch_first=batch_first)
    reference.load_state_dict(ours.state_dict())  # same names and shapes, so weights copy across
    return ours, reference


def test_parameters_have_nn_rnn_names_and_shapes() -> None:
    ours = SimpleRNN(5, 7, num_layers=3)
    reference = nn.RNN(5, 7, num_layers=3)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_outputs_and_gradients_match_nn_rnn(
    num_layers: int, batch_first: bool, with_state: bool
) -> None:
    ours, reference = twin_modules(num_layers, batch_first)
    torch.manual_seed(1)
    shape = (3, 11, 5) if batch_first else (11, 3, 5)
    inputs = torch.randn(shape)
    state = torch.randn(num_layers, 3, 7) if with_state else None
    results = []
    for module in (ours, reference):
        x = inputs.clone().requires_grad_(True)
        h0 = None if state is None else state.clone().requires_grad_(True)
        output, h_n = module(x, h0)
        # A loss that weighs every output and the final state differently.
        loss = (output * torch.linspace(-1, 1, output.numel()).reshape(output.shape)).sum()
        loss = loss + (h_n**2).sum()
        loss.backward()
        grads = {name: p.grad.clone() for name, p in module.named_parameters()}
        results.append((output, h_n, x.grad, None if h0 is None else h0.grad, grads))
    (out_a, h_a, dx_a, dh_a, grads_a), (out_b, h_b, dx_b, dh_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, **TOLERANCE)
    torch.testing.assert_close(h_a, h_b, **TOLERANCE)
    torch.testing.assert_close(dx_a, dx_b, **TOLERANCE)
    if with_state:
        torch.testing.assert_close(dh_a, dh_b, **TOLERANCE)
    for name in grads_b:
        torch.testing.assert_close(grads_a[name], grads_b[name], **TOLERANCE, msg=name)


def test_without_bias_matches_too() -> None:
    ours, reference = twin_modules(2, batch_first=True, bias=False)
    inputs = torch.randn(2, 4, 5)
    torch.testing.assert_close(ours(inputs)[0], reference(inputs)[0], **TOLERANCE)
    assert not any("bias" in name for name, _ in ours.named_parameters())


def test_unbatched_input_matches_nn_rnn() -> None:
    ours, reference = twin_modules(2, batch_first=False)
    inputs, state = torch.randn(6, 5), torch.randn(2, 7)
    for a, b in zip(ours(inputs, state), reference(inputs, state), strict=True):
        torch.testing.assert_close(a, b, **TOLERANCE)


@pytest.mark.parametrize("bias", [True, False])
def test_under_cpu_autocast_the_recurrence_stays_in_fp32(bias: bool) -> None:
    """bf16 autocast lowers the input projection only (without a bias to add, it comes out in
    bf16): the recurrence still runs in fp32."""
    ours, reference = twin_modules(2, batch_first=True, bias=bias)
    inputs = torch.randn(3, 9, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, h_n = ours(inputs)
    assert output.dtype == h_n.dtype == torch.float32
    # nn.RNN's function, to within the bf16 rounding of the projections.
    torch.testing.assert_close(output, reference(inputs)[0], atol=0.03, rtol=0)


def test_the_recurrence_computes_the_same_under_autocast_forward_and_backward() -> None:
    torch.manual_seed(0)
    projected, h0, weight_hh = torch.randn(9, 3, 7), torch.randn(3, 7), 0.3 * torch.randn(7, 7)
    results = []
    for enabled in (False, True):
        leaves = [t.clone().requires_grad_(True) for t in (projected, h0, weight_hh)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            outputs = TanhRecurrence.apply(*leaves)  # (T, B, H)
            weights = torch.linspace(-1, 1, outputs.numel()).reshape(outputs.shape)
            (outputs * weights).sum().backward()
        results.append([outputs, *(leaf.grad for leaf in leaves)])
    for fp32, autocast in zip(*results, strict=True):
        assert torch.equal(fp32, autocast)


def test_dropout_acts_between_layers_only_while_training() -> None:
    torch.manual_seed(0)
    module = SimpleRNN(5, 7, num_layers=2, batch_first=True, dropout=0.5)
    inputs = torch.randn(4, 9, 5)
    module.eval()
    first, second = module(inputs)[0], module(inputs)[0]
    assert torch.equal(first, second)
    module.train()
    assert not torch.equal(module(inputs)[0], first)


def test_initialisation_follows_nn_rnn_bounds() -> None:
    module = SimpleRNN(5, 100, num_layers=2)
    bound = 1 / 100**0.5
    for parameter in module.parameters():
        assert parameter.abs().max() <= bound
        assert parameter.std() > bound / 3  # spread across the range, not constant


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"num_layers": 0}, "num_layers"), ({"dropout": 1.0}, "dropout")]
)
def test_invalid_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleRNN(5, 7, **kwargs)  # type: ignore[arg-type]
