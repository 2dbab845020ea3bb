"""`train.compile`: the model through `torch.compile`, with TorchDynamo tracing its RNNs.

Whether it pays depends on the cell and the device: on a CPU only the GRU trained faster
compiled (BENCHMARKS.md, scripts/compile_check.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from charnn.errors import CharnnError
from charnn.platform.compat import compile_failure, dynamo_traces_rnns, forget_compiled

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
        with dynamo_traces_rnns():
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
    failure = None
    try:
        yield
    except compile_failure() as error:
        # Its own message starts "backend='inductor' raised:"; what went wrong is the cause.
        cause = getattr(error, "inner_exception", None) or error.__cause__ or error
        lines = str(cause).strip().splitlines()
        failure = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    finally:
        forget_compiled()
    if failure is not None:  # raised outside `except`: no tensors kept alive in a traceback
        raise CharnnError(
            f"train.compile=true, but torch.compile could not compile the model ({failure}); "
            "set train.compile=false (on a CPU it needs a C++ compiler such as gcc)"
        )
