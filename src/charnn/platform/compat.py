"""Every private torch API charnn relies on, in one place, each behind a small shim.

charnn supports torch 2.10 and newer (pyproject.toml). Where a shim's API is missing from a
torch version, the shim degrades as its docstring says rather than failing at import.

Each shim, the private API behind it, and the torch versions that need it:

- `dynamo_traces_rnns`: `torch._dynamo.config.allow_rnn`. All versions: TorchDynamo skips
  nn.LSTM and nn.GRU by default.
- `compile_failure`, `forget_compiled`: `torch._dynamo.exc.BackendCompilerFailed`,
  `torch._dynamo.reset`. All versions: neither has a public name.
- `rnn_while_loop_decompositions`: `torch.export._patches.register_lstm_while_loop_decomposition`
  and its GRU twin. 2.11 and 2.12; 2.13's torch.onnx applies them itself (twice is harmless);
  2.10 has none, and ONNX files then take a fixed sequence length.
- `forget_resolved_rnn_kernels`: `OpOverload._dispatch_cache` of `aten::lstm` and `aten::gru`.
  2.11 and newer, once anything in the process has traced an RNN.
- `cpu_has_native_bf16`: `torch.ops.mkldnn._is_mkldnn_bf16_supported`. All versions: there is
  no public query.

`scripts/test_torch_versions.sh` runs the test suite under several torch versions;
`tests/platform/test_compat.py` tests each shim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType

import torch

# torch._dynamo is imported inside the shims: importing it takes most of a second, which only
# runs that compile should pay.


def compile_failure() -> type[Exception]:
    """What a `torch.compile`d call raises when its backend fails (no C++ compiler, say)."""
    import torch._dynamo

    return torch._dynamo.exc.BackendCompilerFailed


def dynamo_traces_rnns() -> contextlib.AbstractContextManager[object]:
    """While open, TorchDynamo traces nn.LSTM and nn.GRU instead of running them eagerly."""
    import torch._dynamo

    return torch._dynamo.config.patch(allow_rnn=True)


def forget_compiled() -> None:
    """Drop everything TorchDynamo compiled in this process (it keeps compiled code on the
    model class's code, and piles later compilations onto it up to a limit)."""
    import torch._dynamo

    torch._dynamo.reset()


def _export_patches() -> ModuleType | None:
    try:
        from torch.export import _patches
    except ImportError:
        return None
    return _patches


RNN_WHILE_LOOP_REGISTRARS = (
    "register_lstm_while_loop_decomposition",
    "register_gru_while_loop_decomposition",
)


def has_rnn_while_loop_decompositions() -> bool:
    """Whether this torch can trace `aten::lstm` and `aten::gru` as loops over time."""
    patches = _export_patches()
    return all(hasattr(patches, name) for name in RNN_WHILE_LOOP_REGISTRARS)


@contextlib.contextmanager
def rnn_while_loop_decompositions() -> Iterator[None]:
    """While open, `aten::lstm` and `aten::gru` trace as `while_loop`s over time, so an
    exported graph takes any sequence length (a no-op where this torch has none; applying
    them twice is harmless, each restores what it found)."""
    patches = _export_patches()
    with contextlib.ExitStack() as stack:
        for name in RNN_WHILE_LOOP_REGISTRARS:
            register = getattr(patches, name, None)
            if register is not None:
                stack.enter_context(register())
        yield


RESOLVED_RNN_OPERATORS = (torch.ops.aten.lstm.input, torch.ops.aten.gru.input)


def forget_resolved_rnn_kernels() -> None:
    """Clear the Python kernel `aten::lstm` and `aten::gru` remember having resolved.

    An operator remembers which Python kernel it resolved on its first traced call, and
    swapping the kernel does not clear that memory. The memory is a cache, refilled on the
    next call.
    """
    for operator in RESOLVED_RNN_OPERATORS:
        resolved = getattr(operator, "_dispatch_cache", None)
        if resolved is not None:
            resolved.clear()


def cpu_has_native_bf16() -> bool | None:
    """Whether this CPU computes bf16 products in hardware (x86 AVX512-BF16 or AMX, as oneDNN
    sees it); None when this torch cannot say."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None
