"""The machine a run executes on: device choice, backend settings, seeding and RNG state."""

from __future__ import annotations

import logging
import random
import re
from typing import Any

import torch

from charnn.errors import DeviceError, key

logger = logging.getLogger(__name__)

_DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def resolve_device(spec: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; an explicit device must exist (no silent fallback)."""
    spec = spec.strip().lower()
    if not _DEVICE_PATTERN.fullmatch(spec):
        raise DeviceError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps")
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {spec!r} was asked for, but this machine has no usable CUDA GPU "
                f"(or this torch build has no CUDA); use {key('device', 'cpu')} or "
                f"{key('device', 'auto')}"
            )
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {spec!r} was asked for, but only {torch.cuda.device_count()} CUDA "
                f"device(s) exist (cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
        return device
    if spec == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(
            f"device 'mps' was asked for, but MPS is not available; use {key('device', 'cpu')}"
        )
    return torch.device(spec)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        # The recurrent layers run on cuDNN's fused kernels (on by default); let the plain
        # matrix products (the output layer) use TF32 tensor cores too.
        torch.backends.cuda.matmul.allow_tf32 = True


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every random generator a run may draw from, as tensors and tuples of ints (plain data,
    so weights_only loading works): Python's, torch's CPU generator and each CUDA device's."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    python_state = state.get("python")
    if isinstance(python_state, tuple | list) and len(python_state) == 3:
        version, internal, gauss_next = python_state
        random.setstate((version, tuple(internal), gauss_next))
    torch_state = state.get("torch")
    if isinstance(torch_state, torch.Tensor):
        torch.set_rng_state(torch_state)
    cuda_states = state.get("cuda")
    if device.type == "cuda" and isinstance(cuda_states, list):
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            logger.warning("the checkpoint's CUDA RNG state is for another GPU count; not restored")
