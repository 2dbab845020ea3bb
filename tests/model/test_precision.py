"""The precision policy: bf16 autocast where it applies, and the recurrent core out of float16."""

from __future__ import annotations

import pytest
import torch

from charnn.config import ModelConfig, RunConfig
from charnn.model import precision
from charnn.model.network import CharRNN
from charnn.model.precision import autocast, keep_recurrence_out_of_float16, recurrent_dtype

from ..conftest import core_output_dtypes
from .test_network import small_model


class Float16UnderAutocast(torch.nn.Module):
    """Stands in for cuDNN's RNNs under CUDA autocast, on the CPU: float16 out whatever lower
    precision the autocast region asked for, fp32 outside one."""

    def __init__(self, core: torch.nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(
        self, inputs: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output, hidden = self.core(inputs, hidden)
        return (output.half() if torch.is_autocast_enabled("cpu") else output), hidden


def test_bf16_autocasts_products_on_the_cpu() -> None:
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_bf16_is_a_no_op_where_autocast_does_not_apply(caplog: pytest.LogCaptureFixture) -> None:
    with autocast(torch.device("mps"), "bf16"):
        assert not torch.is_autocast_enabled("cpu")
    with caplog.at_level("WARNING", logger="charnn"):
        precision.warn_unused_precision(torch.device("mps"), "bf16")
    assert "applies on CUDA and CPU only; training in fp32 on mps" in caplog.text


@pytest.mark.parametrize(("native", "warned"), [(False, True), (True, False), (None, False)])
def test_bf16_on_a_cpu_warns_only_where_it_is_emulated(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native: bool | None,
    warned: bool,
) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    with caplog.at_level("WARNING", logger="charnn"):
        precision.warn_unused_precision(torch.device("cpu"), "bf16")
        precision.warn_unused_precision(torch.device("cpu"), "fp32")
    assert ("no native bf16 arithmetic" in caplog.text) is warned
    assert caplog.text.count("\n") == int(warned)  # fp32 never warns


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_autocast_on_cuda() -> None:
    device = torch.device("cuda")
    with autocast(device, "bf16"):
        out = torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
    assert out.dtype == torch.bfloat16


@pytest.mark.filterwarnings("ignore:CUDA is not available:UserWarning")
def test_autocast_on_cuda_asks_for_bfloat16() -> None:
    # The CUDA branch, checked without a GPU (torch then disables the context with a warning).
    context = autocast(torch.device("cuda"), "bf16")
    assert isinstance(context, torch.autocast)
    assert context.fast_dtype == torch.bfloat16
    assert not isinstance(autocast(torch.device("cuda"), "fp32"), torch.autocast)


def test_recurrent_dtype_reports_what_the_core_computes_in() -> None:
    # CPU autocast runs nn.LSTM in bfloat16, and leaves it alone when off.
    model = small_model("lstm")
    assert recurrent_dtype(model, torch.autocast("cpu", dtype=torch.bfloat16)) == torch.bfloat16
    assert recurrent_dtype(model, torch.autocast("cpu", enabled=False)) == torch.float32
    assert not torch.is_autocast_enabled("cpu")  # the probe's context is closed again


def test_the_dtype_probe_draws_no_random_numbers_and_keeps_the_mode() -> None:
    model = small_model("lstm", num_layers=2, dropout=0.5)  # dropout between the layers
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    recurrent_dtype(model, torch.autocast("cpu", dtype=torch.bfloat16))
    assert torch.equal(torch.rand(3), expected)
    assert model.rnn.training


def test_a_core_that_autocast_would_run_in_float16_runs_in_fp32(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = CharRNN(ModelConfig(cell="gru", hidden_size=8, embedding_dim=4), vocab_size=10)
    model.rnn = Float16UnderAutocast(model.rnn)
    seen = core_output_dtypes(model)
    bf16 = torch.autocast("cpu", dtype=torch.bfloat16)
    with caplog.at_level("INFO", logger="charnn"):
        assert keep_recurrence_out_of_float16(model, bf16) == torch.float32
    assert "in float16" in caplog.text and "running them in fp32" in caplog.text
    assert model.recurrent_autocast is False
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model(torch.zeros(2, 3, dtype=torch.long))
    assert seen[-1] == torch.float32 and logits.dtype == torch.bfloat16


def test_a_core_that_computes_in_bfloat16_is_left_under_autocast(
    tiny_config: RunConfig, caplog: pytest.LogCaptureFixture
) -> None:
    model = CharRNN(tiny_config.model, vocab_size=10)  # an LSTM: CPU autocast runs it in bf16
    with caplog.at_level("INFO", logger="charnn"):
        dtype = keep_recurrence_out_of_float16(model, torch.autocast("cpu", dtype=torch.bfloat16))
    assert dtype == torch.bfloat16 and model.recurrent_autocast is True
    assert "output is bfloat16" in caplog.text


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_no_float16_flows_through_the_recurrent_layers_under_bf16_on_cuda(cell: str) -> None:
    device = torch.device("cuda")
    model = CharRNN(ModelConfig(cell=cell, hidden_size=16, embedding_dim=8), 10).to(device)
    dtype = keep_recurrence_out_of_float16(model, autocast(device, "bf16"))
    assert dtype in (torch.bfloat16, torch.float32)
    seen = core_output_dtypes(model)
    with autocast(device, "bf16"):
        model(torch.zeros(2, 3, dtype=torch.long, device=device))
    assert seen == [dtype]
