"""Each shim over a private torch API works on the installed torch (see compat's table)."""

from __future__ import annotations

import pytest
import torch

from charnn.platform import compat


def test_whether_the_cpu_has_native_bf16_is_a_plain_answer() -> None:
    assert compat.cpu_has_native_bf16() in (True, False, None)


def test_dynamo_traces_rnns_only_while_open() -> None:
    import torch._dynamo

    assert torch._dynamo.config.allow_rnn is False
    with compat.dynamo_traces_rnns():
        assert torch._dynamo.config.allow_rnn is True
    assert torch._dynamo.config.allow_rnn is False


@pytest.mark.usefixtures("fresh_dynamo")
def test_a_failing_backend_raises_the_compile_failure_type() -> None:
    def no_compiler(graph: torch.fx.GraphModule, inputs: object) -> object:
        raise RuntimeError("no C++ compiler")

    compiled = torch.compile(lambda x: x * 2 + 1, backend=no_compiler)
    with pytest.raises(compat.compile_failure()):
        compiled(torch.ones(3))


@pytest.mark.usefixtures("fresh_dynamo")
def test_forget_compiled_makes_the_next_call_compile_again() -> None:
    compilations: list[int] = []

    def counting(graph: torch.fx.GraphModule, inputs: object) -> object:
        compilations.append(1)
        return graph.forward

    def double(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    compiled = torch.compile(double, backend=counting)
    compiled(torch.ones(3))
    compiled(torch.ones(3))
    assert len(compilations) == 1
    compat.forget_compiled()
    compiled(torch.ones(3))
    assert len(compilations) == 2


@pytest.mark.skipif(torch.__version__ < "2.11", reason="torch 2.10 has no such decompositions")
def test_the_rnn_while_loop_decompositions_exist_and_open() -> None:
    assert compat.has_rnn_while_loop_decompositions()
    with compat.rnn_while_loop_decompositions():
        pass


def test_forget_resolved_rnn_kernels_empties_the_operators_caches() -> None:
    for operator in compat.RESOLVED_RNN_OPERATORS:
        cache = getattr(operator, "_dispatch_cache", None)
        if cache is not None:
            cache[object()] = None  # something remembered
    compat.forget_resolved_rnn_kernels()
    for operator in compat.RESOLVED_RNN_OPERATORS:
        assert not getattr(operator, "_dispatch_cache", {})
