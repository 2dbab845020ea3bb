"""The machine a run executes on: device choice, seeding, mixed precision."""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import torch

from charnn.errors import CharnnError, DeviceError

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
                "(or this torch build has no CUDA); use --device cpu or --device auto"
            )
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {spec!r} was asked for, but only {torch.cuda.device_count()} CUDA "
                f"device(s) exist (cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
        return device
    if spec == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' was asked for, but MPS is not available; use --device cpu")
    return torch.device(spec)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        # The recurrent layers run on cuDNN's fused kernels (on by default); let the plain
        # matrix products (the output layer) use TF32 tensor cores too.
        torch.backends.cuda.matmul.allow_tf32 = True


AUTOCAST_DEVICES = ("cuda", "cpu")
"""Where `train.precision=bf16` applies; elsewhere (MPS) a run trains in fp32."""


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA or a CPU when asked for; a no-op otherwise."""
    if precision == "bf16" and device.type in AUTOCAST_DEVICES:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_has_native_bf16() -> bool | None:
    """Whether this CPU computes bf16 products in hardware (x86 AVX512-BF16 or AMX, as oneDNN
    sees it); None when this torch cannot say. Without it, bf16 is emulated and slower than
    fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


COMPILE_BACKEND = "inductor"
"""`torch.compile`'s backend for `train.compile` (the tests use "eager": no C++ compiler)."""


class _CompiledWithRNNs(torch.nn.Module):
    """`torch.compile(model)` called with TorchDynamo tracing the RNN modules.

    By default TorchDynamo leaves `nn.LSTM` and `nn.GRU` alone (`allow_rnn` off), so compiling
    a model built on them would change nothing. The setting is process-wide, and other
    tracing in the same process must not see it, so it is on only during the calls that may
    compile: compiling happens lazily, at a call.
    """

    def __init__(self, model: torch.nn.Module, backend: str | Callable[..., Any]) -> None:
        super().__init__()
        self.compiled = torch.compile(model, backend=backend)

    def forward(self, *args: object) -> object:
        import torch._dynamo  # imported by torch on first use; explicit for its config

        with torch._dynamo.config.patch(allow_rnn=True):
            return self.compiled(*args)


def compile_model(
    model: torch.nn.Module, backend: str | Callable[..., Any] | None = None
) -> torch.nn.Module:
    """`model` through `torch.compile` (`backend`, by default `COMPILE_BACKEND`), with
    TorchDynamo tracing its RNN modules. The result shares `model`'s parameters; save `model`,
    whose parameter names are unchanged."""
    return _CompiledWithRNNs(model, COMPILE_BACKEND if backend is None else backend)


@contextlib.contextmanager
def compiled_training(enabled: bool) -> Iterator[None]:
    """Around a run's steps when `train.compile` is on (else a no-op).

    Compiling happens at the first step; when it fails (on a CPU, most often for want of a C++
    compiler), that is one clear error, and the checkpoints on disk stay as they are. At the
    end, TorchDynamo forgets what it compiled: it keeps compiled code on the model class's
    code, for the whole process, and a later run in the same process (another model, another
    size) would otherwise pile its compilations onto those, up to TorchDynamo's limit, past
    which it silently runs uncompiled.
    """
    if not enabled:
        yield
        return
    import torch._dynamo

    failure = None
    try:
        yield
    except torch._dynamo.exc.BackendCompilerFailed as error:
        # Its own message starts "backend='inductor' raised:"; what went wrong is the cause.
        cause = getattr(error, "inner_exception", None) or error.__cause__ or error
        lines = str(cause).strip().splitlines()
        failure = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    finally:
        torch._dynamo.reset()
    if failure is not None:  # raised outside `except`: no tensors kept alive in a traceback
        raise CharnnError(
            f"train.compile=true, but torch.compile could not compile the model ({failure}); "
            "set train.compile=false (on a CPU it needs a C++ compiler such as gcc)"
        )


def warn_unused_precision(device: torch.device, precision: str) -> None:
    """Warn when `precision` will not do what it promises on `device`."""
    if precision != "bf16":
        return
    if device.type not in AUTOCAST_DEVICES:
        logger.warning(
            "train.precision=bf16 applies on CUDA and CPU only; training in fp32 on %s", device
        )
    elif device.type == "cpu" and cpu_has_native_bf16() is False:
        logger.warning(
            "train.precision=bf16: this CPU has no native bf16 arithmetic (AVX512-BF16 or AMX), "
            "so bf16 is emulated and likely slower than fp32; set train.precision=fp32"
        )


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
