from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from charnn.errors import DeviceError
from charnn.platform import device as runtime
from charnn.platform.device import resolve_device, rng_state, set_rng_state


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
    with pytest.raises(DeviceError, match=f"device '{spec}' was asked for.*use device=cpu"):
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


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    runtime.seed_everything(5)
    path = tmp_path / "rng.pt"
    torch.save(rng_state(cpu), path)
    first = (torch.rand(4), random.random())
    set_rng_state(torch.load(path, weights_only=True), cpu)  # plain data only
    assert torch.equal(torch.rand(4), first[0]) and random.random() == first[1]


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
