from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from charnn.errors import DeviceError
from charnn.platform import device as runtime
from charnn.platform.device import autocast, resolve_device, rng_state, set_rng_state


def test_cpu_and_auto_without_accelerators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=f"device '{spec}' was asked for.*use --device cpu"):
        resolve_device(spec)


def test_a_cuda_index_beyond_the_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"only 2 CUDA device\(s\) exist \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_mps_without_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="MPS is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("spec", ["gpu", "tpu", "cuda:x", ""])
def test_unknown_devices(spec: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(spec)


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
        runtime.warn_unused_precision(torch.device("mps"), "bf16")
    assert "applies on CUDA and CPU only; training in fp32 on mps" in caplog.text


@pytest.mark.parametrize(("native", "warned"), [(False, True), (True, False), (None, False)])
def test_bf16_on_a_cpu_warns_only_where_it_is_emulated(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native: bool | None,
    warned: bool,
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    with caplog.at_level("WARNING", logger="charnn"):
        runtime.warn_unused_precision(torch.device("cpu"), "bf16")
        runtime.warn_unused_precision(torch.device("cpu"), "fp32")
    assert ("no native bf16 arithmetic" in caplog.text) is warned
    assert caplog.text.count("\n") == int(warned)  # fp32 never warns


def test_whether_the_cpu_has_native_bf16_is_a_plain_answer() -> None:
    assert runtime.cpu_has_native_bf16() in (True, False, None)


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    runtime.seed_everything(5)
    path = tmp_path / "rng.pt"
    torch.save(rng_state(cpu), path)
    first = (torch.rand(4), random.random())
    set_rng_state(torch.load(path, weights_only=True), cpu)  # plain data only
    assert torch.equal(torch.rand(4), first[0]) and random.random() == first[1]


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


def test_backend_settings_touch_cuda_only() -> None:
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    try:
        matmul.allow_tf32 = False
        runtime.configure_backends(torch.device("cpu"))
        assert matmul.allow_tf32 is False
        runtime.configure_backends(torch.device("cuda"))
        assert matmul.allow_tf32 is True
    finally:
        matmul.allow_tf32 = before


@pytest.mark.usefixtures("fresh_dynamo")
def test_compiling_traces_the_rnn_modules_only_inside_the_compiled_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch._dynamo

    from charnn.config import ModelConfig
    from charnn.model.network import CharRNN

    graphs: list[torch.fx.GraphModule] = []

    def recording(graph: torch.fx.GraphModule, inputs: object) -> object:
        graphs.append(graph)
        return graph.forward  # runs the captured graph as it is: no C++ compiler needed

    monkeypatch.setattr(runtime, "COMPILE_BACKEND", recording)
    model = CharRNN(ModelConfig(cell="gru", hidden_size=8, embedding_dim=4), vocab_size=7)
    compiled = runtime.compile_model(model)
    ids = torch.randint(0, 7, (2, 5))
    logits, _ = compiled(ids)
    torch.testing.assert_close(logits, model(ids)[0], rtol=0, atol=0)
    # The GRU is inside what TorchDynamo captured (without allow_rnn it would be left out).
    assert any("gru" in graph.code.lower() for graph in graphs)
    assert {id(p) for p in compiled.parameters()} == {id(p) for p in model.parameters()}
    assert torch._dynamo.config.allow_rnn is False  # other tracing in this process unchanged
