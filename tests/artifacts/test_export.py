"""`charnn export`: the exported file, run by plain PyTorch without charnn, gives the same
next-character distribution as the original model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import charnn
from charnn.artifacts.checkpoint import load_checkpoint
from charnn.cli import app
from charnn.config import config_from_dict
from charnn.training.loop import train

from ..conftest import tiny_classify_tree, tiny_tree, without_time_loops

# Older exporters cannot keep the time axis free: charnn refuses them (tested below).
needs_onnx_torch = pytest.mark.skipif(
    torch.__version__ < "2.11", reason="ONNX export needs torch 2.11 or newer"
)


def in_fresh_interpreter(code: str, *args: object, env: dict[str, str]) -> Any:
    """Run `code` in a new Python with `args`; it must succeed; the JSON of its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# Runs in a fresh interpreter that never imports charnn: only torch and the exported files.
PLAIN_TORCH = """
import json, sys, torch
model = torch.jit.load(sys.argv[1])
vocab = json.load(open(sys.argv[2]))
ids = torch.tensor([[vocab["vocab"]["chars"].index(c) for c in sys.argv[3]]])
state = torch.zeros(vocab["num_layers"], 1, vocab["hidden_size"])
logits, h, c = model(ids, state, state)
assert "charnn" not in sys.modules
print(json.dumps(torch.softmax(logits[0, -1], -1).tolist()))
"""


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_exported_model_matches_the_original(
    cell: str, corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=20, eval_every=20)
    tree["model"].update(cell=cell, num_layers=2)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    model_file, vocab_file = tmp_path / "run" / "model.pt", tmp_path / "run" / "model.pt.json"
    assert result.stdout.split() == [str(model_file), str(vocab_file)]

    prime = "the quick brown fox"
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    original = checkpoint.build_model()
    with torch.inference_mode():
        logits, _ = original(checkpoint.vocab.encode(prime).unsqueeze(0))
    expected = torch.softmax(logits[0, -1], -1)
    got = torch.tensor(
        in_fresh_interpreter(PLAIN_TORCH, model_file, vocab_file, prime, env=subprocess_env)
    )
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    # The vocabulary is inside the model file too.
    extra = {"charnn.json": ""}
    torch.jit.load(str(model_file), _extra_files=extra)
    assert json.loads(extra["charnn.json"])["vocab"] == checkpoint.vocab.to_dict()


# Runs in a fresh interpreter with onnxruntime and NumPy only: no torch, no charnn.
ONNX_RUNTIME = """
import json, sys
import numpy as np
import onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
vocab = json.load(open(sys.argv[2]))
chars = vocab["vocab"]["chars"]
texts = json.loads(sys.argv[3])  # equal lengths: one batch
ids = np.array([[chars.index(c) for c in text] for text in texts], dtype=np.int64)
state = np.zeros((vocab["num_layers"], len(texts), vocab["hidden_size"]), dtype=np.float32)
logits, h, c = session.run(None, {"ids": ids, "h": state, "c": state})
assert "torch" not in sys.modules and "charnn" not in sys.modules
def softmax(rows):
    rows = rows.astype(np.float64)
    exp = np.exp(rows - rows.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)
# One more character for the first text alone, its state carried: batch 1, length 1.
step = np.array([[chars.index(texts[0][0])]], dtype=np.int64)
next_logits, _, _ = session.run(None, {"ids": step, "h": h[:, :1], "c": c[:, :1]})
meta = session.get_modelmeta().custom_metadata_map
print(json.dumps({
    "probs": softmax(logits[:, -1]).tolist(),
    "h": h.tolist(),
    "next": softmax(next_logits[0, -1]).tolist(),
    "meta": meta,
}))
"""


@needs_onnx_torch
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_onnx_export_runs_in_onnxruntime_and_matches_the_original(
    cell: str, corpus_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=20, eval_every=20)
    tree["model"].update(cell=cell, num_layers=2)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    model_file, vocab_file = tmp_path / "run" / "model.onnx", tmp_path / "run" / "model.onnx.json"
    assert result.stdout.split() == [str(model_file), str(vocab_file)]

    # Other batch and sequence sizes than the export's example (2 x 3): both axes are free.
    texts = ["the quick brown fox", "a stitch in time sa", "to be or not to be "]
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    original = checkpoint.build_model()
    with torch.inference_mode():
        ids = torch.stack([checkpoint.vocab.encode(text) for text in texts])  # (3, 19)
        logits, hidden = original(ids)
        expected = torch.softmax(logits[:, -1].double(), -1)
        expected_h = hidden[0] if isinstance(hidden, tuple) else hidden
        first_row = (
            tuple(part[:, :1] for part in hidden) if isinstance(hidden, tuple) else hidden[:, :1]
        )
        step = checkpoint.vocab.encode(texts[0][0]).unsqueeze(0)  # (1, 1)
        next_logits, _ = original(step, first_row)
    expected_next = torch.softmax(next_logits[0, -1].double(), -1)
    got = in_fresh_interpreter(
        ONNX_RUNTIME, model_file, vocab_file, json.dumps(texts), env=subprocess_env
    )
    torch.testing.assert_close(
        torch.tensor(got["probs"], dtype=torch.float64), expected, atol=1e-6, rtol=1e-5
    )
    torch.testing.assert_close(torch.tensor(got["h"]), expected_h, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        torch.tensor(got["next"], dtype=torch.float64), expected_next, atol=1e-6, rtol=1e-5
    )
    # The vocabulary travels inside the model file too.
    assert json.loads(got["meta"]["charnn.json"])["vocab"] == checkpoint.vocab.to_dict()


@needs_onnx_torch
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.usefixtures("fresh_dynamo")
def test_onnx_export_after_a_compiled_run_in_the_same_process_keeps_the_time_axis_free(
    cell: str, corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A compiled run has TorchDynamo trace nn.LSTM / nn.GRU, which pins the operators' Python
    # kernels; the exporter's time-looping decompositions must still be the ones used.
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    # The eager backend: no C++ compiler needed.
    monkeypatch.setattr("charnn.platform.compile.COMPILE_BACKEND", "eager")
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=4, eval_every=4, compile=True)
    tree["model"].update(cell=cell, num_layers=2)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    graph = onnx.load(str(tmp_path / "run" / "model.onnx")).graph
    ids = next(i for i in graph.input if i.name == "ids")
    assert [d.dim_param or d.dim_value for d in ids.type.tensor_type.shape.dim] == [
        "batch",
        "time",
    ]


def test_an_onnx_export_that_would_fix_the_time_axis_stops_and_writes_nothing(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_time_loops(monkeypatch)  # as torch 2.10 exports
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=4, eval_every=4)
    tree["model"].update(cell="gru", num_layers=2)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", "onnx"])
    assert result.exit_code == 2, result.output
    # (torch 2.10 itself also renames the GRU's pass-through input: the check names that first.)
    assert "exported this model to ONNX with" in result.stderr
    assert "needs torch 2.11 or newer" in result.stderr and "Traceback" not in result.output
    assert not list((tmp_path / "run").glob("model*"))


def _graph(inputs: dict[str, list[str | int]], outputs: list[str]) -> object:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n, dims in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
    )
    return helper.make_model(graph)


def test_the_exported_interface_check_names_what_is_off() -> None:
    pytest.importorskip("onnxscript")
    from charnn.artifacts.export.onnx import interface_problem

    outputs = ["logits", "h_out", "c_out"]
    free = {"ids": ["batch", "time"], "h": [2, "batch", 32], "c": [2, "batch", 32]}
    assert interface_problem(_graph(free, outputs)) is None
    fixed_time = {**free, "ids": ["batch", 3]}
    assert "a fixed sequence length" in str(interface_problem(_graph(fixed_time, outputs)))
    fixed_batch = {**free, "h": [2, 2, 32]}
    assert "a fixed batch size" in str(interface_problem(_graph(fixed_batch, outputs)))
    # torch 2.10 renames a tanh RNN's pass-through state input.
    renamed = {"ids": free["ids"], "h": free["h"], "c_out_orig": free["c"]}
    problem = str(interface_problem(_graph(renamed, outputs)))
    assert "inputs ids, h, c_out_orig" in problem and "charnn's are ids, h, c" in problem


def test_onnx_export_without_the_onnx_packages_names_the_extra(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    target = tmp_path / "m.onnx"
    result = CliRunner().invoke(
        app, ["export", str(trained_run), "--format", "onnx", "--out", str(target)]
    )
    assert result.exit_code == 2
    assert "pip install 'charnn[onnx]'" in result.stderr and "Traceback" not in result.output
    assert not target.exists() and not Path(f"{target}.json").exists()


def test_an_unknown_export_format_is_one_clear_error(trained_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["export", str(trained_run), "--format", "tflite", "--out", str(tmp_path / "m.pt")]
    )
    assert result.exit_code == 2 and "unknown export format 'tflite'" in result.stderr


# A classifier's export, run in a fresh interpreter without charnn: TorchScript through plain
# PyTorch, ONNX through onnxruntime and NumPy. Both read a padded batch of texts of different
# lengths and print their logits.
CLASSIFIER_RUNNER = """
import json, sys
import numpy as np
kind, model_file, vocab_file, texts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
meta = json.load(open(vocab_file))
chars = meta["vocab"]["chars"]
lengths = np.array([len(text) for text in texts], dtype=np.int64)
ids = np.zeros((len(texts), lengths.max()), dtype=np.int64)
for row, text in enumerate(texts):
    ids[row, : len(text)] = [chars.index(c) for c in text]
if kind == "torchscript":
    import torch
    logits = torch.jit.load(model_file)(torch.from_numpy(ids), torch.from_numpy(lengths)).tolist()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(model_file, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"ids": ids, "lengths": lengths})
    logits = logits.tolist()
assert "charnn" not in sys.modules
print(json.dumps({"labels": meta["labels"], "logits": logits}))
"""


@pytest.mark.parametrize(
    ("format", "cell", "bidirectional"),
    [
        ("torchscript", "lstm", True),
        ("torchscript", "rnn", False),
        pytest.param("onnx", "gru", True, marks=needs_onnx_torch),
        pytest.param("onnx", "rnn", True, marks=needs_onnx_torch),
    ],
)
def test_an_exported_classifier_matches_the_original(
    format: str,
    cell: str,
    bidirectional: bool,
    bits_file: Path,
    tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:
    if format == "onnx":
        pytest.importorskip("onnxscript")
        pytest.importorskip("onnxruntime")
    tree = tiny_classify_tree(bits_file, tmp_path / "run", max_steps=10, eval_every=10)
    tree["model"].update(cell=cell, num_layers=2, bidirectional=bidirectional)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", format])
    assert result.exit_code == 0, result.output
    model_file, vocab_file = (Path(line) for line in result.stdout.split())
    texts = ["1101", "0", "111000111", "10"]  # lengths differ: the batch is padded
    exported = in_fresh_interpreter(
        CLASSIFIER_RUNNER, format, model_file, vocab_file, *texts, env=subprocess_env
    )
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert exported["labels"] == checkpoint.labels == ["ones", "zeros"]
    model = checkpoint.build_classifier()
    for text, logits in zip(texts, exported["logits"], strict=True):
        ids = checkpoint.vocab.encode(text).unsqueeze(0)
        with torch.inference_mode():
            expected = model(ids, torch.tensor([len(text)]))[0]
        torch.testing.assert_close(torch.tensor(logits), expected, atol=1e-5, rtol=1e-4)


# A classifier of sequences of numbers, exported: raw uint8 values in (the graph standardises
# them), a padded batch of different lengths, logits out; run without charnn.
VALUES_RUNNER = """
import json, sys
import numpy as np
kind, model_file, vocab_file, data_file = sys.argv[1:5]
meta = json.load(open(vocab_file))
data = np.load(data_file)
values = data["x"][:, :, None].astype(np.float32)  # raw, as stored: (B, T, 1)
lengths = data["lengths"]
if kind == "torchscript":
    import torch
    model = torch.jit.load(model_file)
    logits = model(torch.from_numpy(values), torch.from_numpy(lengths)).tolist()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(model_file, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"values": values, "lengths": lengths})
    logits = logits.tolist()
assert "charnn" not in sys.modules
print(json.dumps({"labels": meta["labels"], "inputs": meta["inputs"], "logits": logits}))
"""


@pytest.mark.parametrize(
    ("format", "cell"),
    [("torchscript", "lstm"), pytest.param("onnx", "gru", marks=needs_onnx_torch)],
)
def test_an_exported_classifier_of_sequences_takes_raw_values(
    format: str, cell: str, bits_file: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    if format == "onnx":
        pytest.importorskip("onnxscript")
        pytest.importorskip("onnxruntime")
    tree = tiny_classify_tree(
        bits_file.with_suffix(".npz"), tmp_path / "run", max_steps=10, eval_every=10
    )
    tree["model"].update(cell=cell, bidirectional=True)  # type: ignore[union-attr]
    train(config_from_dict(tree))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", format])
    assert result.exit_code == 0, result.output
    model_file, vocab_file = (Path(line) for line in result.stdout.split())
    rows = tmp_path / "rows.npz"
    x = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 0, 1, 1, 1]], dtype=np.uint8)
    np.savez(rows, x=x, lengths=np.array([5, 2, 4]))
    exported = in_fresh_interpreter(
        VALUES_RUNNER, format, model_file, vocab_file, rows, env=subprocess_env
    )
    assert exported["inputs"]["features"] == 1 and exported["inputs"]["standardize"]
    expected = charnn.load_model(tmp_path / "run").module(
        torch.from_numpy(x[:, :, None]).float(), torch.tensor([5, 2, 4])
    )
    torch.testing.assert_close(
        torch.tensor(exported["logits"]), expected.detach(), atol=1e-5, rtol=1e-4
    )


@needs_onnx_torch
def test_each_export_keeps_its_own_metadata_file(trained_run: Path, tmp_path: Path) -> None:
    """An ONNX export after a TorchScript one into the same folder used to overwrite the shared
    model.json, which then called itself charnn-onnx next to model.pt."""
    pytest.importorskip("onnxscript")
    for format, name in (("torchscript", "model.pt"), ("onnx", "model.onnx")):
        result = CliRunner().invoke(
            app, ["export", str(trained_run), "--format", format, "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "model.pt.json").read_text())["format"] == "charnn-torchscript"
    assert json.loads((tmp_path / "model.onnx.json").read_text())["format"] == "charnn-onnx"
    assert not (tmp_path / "model.json").exists()
