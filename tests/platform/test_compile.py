"""train.compile's wrapper: TorchDynamo traces the RNNs, only inside the compiled calls."""

from __future__ import annotations

import pytest
import torch

from charnn.platform import compile as compiling


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

    monkeypatch.setattr(compiling, "COMPILE_BACKEND", recording)
    model = CharRNN(ModelConfig(cell="gru", hidden_size=8, embedding_dim=4), vocab_size=7)
    compiled = compiling.compile_model(model)
    ids = torch.randint(0, 7, (2, 5))
    logits, _ = compiled(ids)
    torch.testing.assert_close(logits, model(ids)[0], rtol=0, atol=0)
    # The GRU is inside what TorchDynamo captured (without allow_rnn it would be left out).
    assert any("gru" in graph.code.lower() for graph in graphs)
    assert {id(p) for p in compiled.parameters()} == {id(p) for p in model.parameters()}
    assert torch._dynamo.config.allow_rnn is False  # other tracing in this process unchanged
