"""ONNX export: torch.onnx's exporter (torch.export, then onnxscript's translations), plus one
translation of charnn's own, for the tanh RNN.

torch.export fixes the sequence length of PyTorch's tanh-RNN operator (its shape function steps
through the sequence one position at a time), so an `nn.RNN` exported as it is would accept only
the example's length. For export, the RNN's layers are therefore one custom operator,
`charnn::tanh_rnn`, whose shapes are written out here and which is translated into ONNX's own
RNN operator, one per layer. The file holds standard ONNX operators only. LSTM and GRU need none
of this: traced with torch's time-looping decompositions (`_time_looping_rnn_kernels`), they
become ONNX's LSTM and GRU operators through onnxscript's translations.

Importing this module needs the optional `onnx` and `onnxscript` packages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from onnxscript import opset18
from torch import nn

from charnn.errors import CharnnError, key
from charnn.platform import compat

OPSET = 18
# onnxscript's typed signatures want its own tensor types where a translation passes Python
# lists, which it accepts and converts; the translation is checked by running it instead.
op: Any = opset18


@torch.library.custom_op("charnn::tanh_rnn", mutates_args=())
def tanh_rnn(
    inputs: torch.Tensor, h: torch.Tensor, weights: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.RNN (tanh, batch first, with biases): inputs (B, T, I), h (L, B, H) -> (B, T, H), h.

    `weights` holds w_ih, w_hh, b_ih, b_hh for each layer in turn, as nn.RNN stores them.
    """
    num_layers = len(weights) // 4
    output, h_last = torch.rnn_tanh(inputs, h, weights, True, num_layers, 0.0, False, False, True)
    return output, h_last


@tanh_rnn.register_fake
def _(
    inputs: torch.Tensor, h: torch.Tensor, weights: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    batch, time, _ = inputs.shape
    return inputs.new_empty(batch, time, h.shape[2]), torch.empty_like(h)


def _tanh_rnn_to_onnx(inputs: Any, h: Any, weights: Sequence[Any]) -> tuple[Any, Any]:
    """`charnn::tanh_rnn` as ONNX RNN operators, one per layer (ONNX's layout is (T, B, I))."""
    sequence = op.Transpose(inputs, perm=[1, 0, 2])  # (T, B, I)
    hidden_size = h.shape[2]
    last_states = []
    for layer in range(len(weights) // 4):
        w_ih, w_hh, b_ih, b_hh = weights[4 * layer : 4 * layer + 4]
        outputs, h_last = op.RNN(
            sequence,
            op.Unsqueeze(w_ih, [0]),  # (1, H, I): one direction
            op.Unsqueeze(w_hh, [0]),
            op.Unsqueeze(op.Concat(b_ih, b_hh, axis=0), [0]),  # (1, 2H)
            initial_h=op.Slice(h, [layer], [layer + 1], axes=[0]),
            hidden_size=hidden_size,
            activations=["Tanh"],
        )
        sequence = op.Squeeze(outputs, [1])  # (T, 1, B, H) -> (T, B, H)
        last_states.append(h_last)
    return op.Transpose(sequence, perm=[1, 0, 2]), op.Concat(*last_states, axis=0)


class TanhRNNForExport(nn.Module):
    """An nn.RNN's (or SimpleRNN's) weights, run through `charnn::tanh_rnn`."""

    def __init__(self, rnn: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.ParameterList(
            getattr(rnn, f"{kind}_l{layer}")
            for layer in range(num_layers)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        self.num_layers = num_layers
        self.hidden_size = int(self.weights[1].shape[1])  # weight_hh_l0: (H, H)

    def forward(
        self, inputs: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if h is None:  # as nn.RNN: zeros
            h = inputs.new_zeros(self.num_layers, inputs.shape[0], self.hidden_size)
        return torch.ops.charnn.tanh_rnn(inputs, h, list(self.weights))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's warnings and log lines (deprecations, optional packages it looks for)
    are about its own internals, not about the user's model."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _time_looping_rnn_kernels() -> Iterator[None]:
    """Trace `aten::lstm` and `aten::gru` as loops over time inside the graph.

    PyTorch's stock decompositions of the two operators step through the example's sequence
    in Python, which fixes its length in the exported graph. `torch.export._patches` holds
    decompositions that loop with `while_loop` instead. torch.onnx 2.13 applies them itself
    when the shapes are dynamic; torch 2.11 has them but its torch.onnx does not apply them,
    so charnn applies them here (twice is harmless: each restores what it found). Where torch
    has none, `onnx_bytes` finds the time axis fixed and says so.

    Once anything in this process has traced an LSTM or a GRU (`train.compile`), the operators
    remember the stock kernel, which unrolls the example's length; so what they resolved is
    forgotten on the way in, and again on the way out.
    """
    with compat.rnn_while_loop_decompositions(), contextlib.ExitStack() as stack:
        compat.forget_resolved_rnn_kernels()
        # What was resolved while the export's kernels were in place must not outlive them.
        stack.callback(compat.forget_resolved_rnn_kernels)
        yield


SEQUENCES = ("ids", "values")
"""The inputs that are sequences, with a time axis."""


@dataclass(frozen=True)
class Interface:
    """An exported graph's named inputs and outputs, and which input axes stay free."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    free_axes: dict[str, tuple[int, ...]]
    """Per input, its axes of free size: the sequences' (`ids` or `values`) batch (0) and time
    (1), the others' batch."""

    def dynamic_shapes(self) -> tuple[dict[int, Any], ...]:
        batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
        named = {0: batch, 1: time}
        return tuple(
            {axis: named[axis] if name in SEQUENCES else batch for axis in self.free_axes[name]}
            for name in self.inputs
        )


LANGUAGE_MODEL = Interface(
    inputs=("ids", "h", "c"),
    outputs=("logits", "h_out", "c_out"),
    free_axes={"ids": (0, 1), "h": (1,), "c": (1,)},
)
CLASSIFIER = Interface(
    inputs=("ids", "lengths"), outputs=("logits",), free_axes={"ids": (0, 1), "lengths": (0,)}
)
VALUE_CLASSIFIER = Interface(
    inputs=("values", "lengths"),
    outputs=("logits",),
    free_axes={"values": (0, 1), "lengths": (0,)},
)


def interface_problem(proto: Any, interface: Interface = LANGUAGE_MODEL) -> str | None:
    """What keeps an exported graph from being the model charnn describes, or None.

    Where a torch version's exporter cannot keep to it, the file would still be written and
    only fail (or, with a fixed length, refuse most inputs) in the user's runtime: torch 2.10
    fixes an LSTM's or a GRU's sequence length, and adds an input to a tanh RNN's graph.
    """
    inputs = {item.name: item for item in proto.graph.input}
    outputs = [item.name for item in proto.graph.output]
    if tuple(inputs) != interface.inputs or tuple(outputs) != interface.outputs:
        return (
            f"inputs {', '.join(inputs)} and outputs {', '.join(outputs)}, where charnn's "
            f"are {', '.join(interface.inputs)} and {', '.join(interface.outputs)}"
        )
    for name, axes in interface.free_axes.items():
        dims = inputs[name].type.tensor_type.shape.dim
        fixed = [axis for axis in axes if not dims[axis].dim_param]
        if fixed:
            what = "sequence length" if name in SEQUENCES and 1 in fixed else "batch size"
            return f"a fixed {what} (the file would accept that one {what} only)"
    return None


def onnx_bytes(
    model: nn.Module,
    example: tuple[torch.Tensor, ...],
    description: dict[str, Any],
    interface: Interface = LANGUAGE_MODEL,
) -> bytes:
    """model(ids, h, c) -> (logits, h, c), or a classifier's (ids, lengths) -> logits, as an
    ONNX file's bytes, batch and time left free, with `description` as the metadata property
    `charnn.json`."""
    with torch.no_grad(), _quiet(), _time_looping_rnn_kernels():
        program = torch.onnx.export(
            model,
            example,
            dynamo=True,
            input_names=list(interface.inputs),
            output_names=list(interface.outputs),
            dynamic_shapes=interface.dynamic_shapes(),
            opset_version=OPSET,
            custom_translation_table={torch.ops.charnn.tanh_rnn.default: _tanh_rnn_to_onnx},
            verbose=False,
        )
    if program is None:  # only without dynamo=True; kept for the type checker
        raise RuntimeError("torch.onnx.export returned no program")
    proto = program.model_proto
    problem = interface_problem(proto, interface)
    if problem is not None:
        raise CharnnError(
            f"torch {torch.__version__} exported this model to ONNX with {problem}; ONNX "
            "export needs torch 2.11 or newer: upgrade torch, or use "
            f"{key('format', 'torchscript')}"
        )
    entry = proto.metadata_props.add()
    entry.key, entry.value = "charnn.json", json.dumps(description)
    return proto.SerializeToString()
