"""The lean generation step computes exactly the full model's next-character distribution."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from charnn.config import ModelConfig
from charnn.inference.stepper import LEAN_STEP_DEVICES, ModelStep, Stepper, sampling_step
from charnn.model.network import CharRNN


@pytest.fixture
def two_threads() -> Iterator[None]:
    """One stream on more than one thread takes the stepper's split products; CI runs the tests
    on one thread, so this sets two for the test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 3])
# One stream: products split in two, batched.
@pytest.mark.parametrize("streams", [1, 4, 16])
def test_step_by_step_logits_equal_the_full_forward_pass(
    cell: str, num_layers: int, streams: int
) -> None:
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=24, num_layers=num_layers, embedding_dim=8)
    model = CharRNN(config, vocab_size=11).eval()
    for parameter in model.parameters():  # away from PyTorch's small init, to exercise the gates
        parameter.data.mul_(3)
    ids = torch.randint(0, 11, (streams, 20))  # (N, T)
    with torch.inference_mode():
        expected, _ = model(ids)  # (N, T, V)
        logits, hidden = model(ids[:, :5])  # a prime of 5, read the usual way
        stepper = Stepper(model, hidden)
        got = [logits[:, -1]]
        for position in range(5, 20):
            got.append(stepper.step(ids[:, position]))
    for position, step_logits in enumerate(got[:-1], start=4):
        torch.testing.assert_close(step_logits, expected[:, position], atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(
            torch.softmax(step_logits, -1),
            torch.softmax(expected[:, position], -1),
            atol=1e-6,
            rtol=0,
        )


@pytest.mark.parametrize("streams", [3, 32])
def test_logit_scale_multiplies_the_logits(streams: int) -> None:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell="gru", hidden_size=16, num_layers=2), vocab_size=7).eval()
    ids = torch.randint(0, 7, (streams, 6))  # (N, T)
    with torch.inference_mode():
        expected, _ = model(ids)  # (N, T, V)
        stepper = Stepper(model, model.zero_hidden(streams), logit_scale=0.25)
        got = [stepper.step(ids[:, position]) for position in range(6)]
    torch.testing.assert_close(torch.stack(got, dim=1), expected * 0.25, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("streams", [5, 16])
def test_a_head_bias_per_stream_replaces_the_heads_bias(streams: int) -> None:
    """The sampler passes the head's bias plus noise, one row per stream."""
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell="lstm", hidden_size=16, num_layers=2), vocab_size=7).eval()
    ids = torch.randint(0, 7, (streams,))
    with torch.inference_mode():
        expected, _ = model(ids.unsqueeze(1))  # (N, 1, V)
        noise = torch.randn(streams, 7)
        stepper = Stepper(model, model.zero_hidden(streams))
        got = stepper.step(ids, head_bias=model.head.bias + noise)
    torch.testing.assert_close(got, expected[:, 0] + noise, atol=1e-5, rtol=1e-5)


@pytest.mark.usefixtures("two_threads")
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_lean_step_on_cuda_equals_the_full_forward_pass(cell: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=32, num_layers=2, embedding_dim=8)
    model = CharRNN(config, vocab_size=11).cuda().eval()
    ids = torch.randint(0, 11, (64, 12), device="cuda")  # (N, T): many streams, as sampling does
    with torch.inference_mode():
        expected, _ = model(ids)  # (N, T, V)
        stepper = Stepper(model, model.zero_hidden(64))
        got = torch.stack([stepper.step(ids[:, position]) for position in range(12)], dim=1)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_model_step_gives_the_full_forward_passs_logits(cell: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=16, num_layers=2, embedding_dim=8)
    model = CharRNN(config, vocab_size=9).eval()
    ids = torch.randint(0, 9, (3, 7))  # (N, T)
    noise = torch.randn(3, 9)
    with torch.inference_mode():
        expected, _ = model(ids)  # (N, T, V)
        step = ModelStep(model, model.zero_hidden(3), logit_scale=0.5)
        got = [step.step(ids[:, position]) for position in range(7)]
        with_bias = ModelStep(model, model.zero_hidden(3)).step(ids[:, 0], model.head.bias + noise)
    torch.testing.assert_close(torch.stack(got, dim=1), expected * 0.5, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(with_bias, expected[:, 0] + noise, atol=1e-5, rtol=1e-5)


def test_sampling_takes_the_lean_step_only_where_it_was_measured_faster() -> None:
    model = CharRNN(ModelConfig(cell="gru", hidden_size=8, num_layers=1), vocab_size=5).eval()
    with torch.inference_mode():
        assert isinstance(sampling_step(model, model.zero_hidden(2)), Stepper)
    assert LEAN_STEP_DEVICES == ("cpu",)  # CUDA and MPS step the model itself until measured


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sampling_on_cuda_steps_the_model_itself() -> None:
    model = CharRNN(ModelConfig(cell="lstm", hidden_size=8, num_layers=1), vocab_size=5)
    model = model.cuda().eval()
    with torch.inference_mode():
        assert isinstance(sampling_step(model, model.zero_hidden(2)), ModelStep)
