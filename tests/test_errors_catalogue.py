"""Every row of docs/errors.md, reproduced through the CLI.

Each row of the catalogue names a scenario below by its id. The test builds the situation,
runs the command, and checks what the row promises: the exit code, the message (the row's
quoted fragment; `…` stands for a part that varies, such as a path), one `charnn:` line on
stderr and no traceback. Every row has a scenario and every scenario a row, so the document
cannot drift from the code.
"""

from __future__ import annotations

import errno
import http.server
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner, Result

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.artifacts.run_dir import training_lock
from charnn.cli import app
from charnn.config import config_from_dict
from charnn.data import sequences
from charnn.data import sources as corpus
from charnn.data.sources import RemoteCorpus
from charnn.platform import atomic
from charnn.training import loop as trainer

from .conftest import REPO_ROOT, disk_with_room, tiny_tree, without_time_loops

CATALOGUE = REPO_ROOT / "docs" / "errors.md"
ROW = re.compile(r"^\|(?P<cells>.*)\|\s*$")


@dataclass(frozen=True)
class Row:
    id: str
    fragment: str
    exit_code: int


def read_catalogue() -> list[Row]:
    """The table rows of docs/errors.md: `| situation | example | message | exit | id |`."""
    rows = []
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if not match:
            continue
        cells = [cell.strip() for cell in match["cells"].split(" | ")]
        if len(cells) != 5 or not cells[4].startswith("`"):
            continue  # header, separator or another table
        message = re.search(r"`(.+?)`", cells[2])
        assert message, f"row {cells[4]} quotes no message"
        rows.append(Row(cells[4].strip("`"), message[1], int(cells[3])))
    return rows


@dataclass
class Situation:
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    corpus_file: Path
    trained_run: Path
    trained_classifier: Path
    trained_sequences: Path

    def tiny_run(self, name: str = "run", **train: object) -> Path:
        """A freshly trained tiny run of our own (safe to change, unlike trained_run)."""
        from charnn.training.loop import train as train_run

        tree = tiny_tree(self.corpus_file, self.tmp / name, max_steps=20, eval_every=10, **train)
        train_run(config_from_dict(tree))
        return self.tmp / name

    def bits_file(self) -> Path:
        """The majority-bit examples the trained classifier learnt from."""
        return Path(load_checkpoint(self.trained_classifier / "last.pt").config.data.path or "")

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    def config(self, **train: object) -> Path:
        tree = tiny_tree(self.corpus_file, self.tmp / "new-run", **train)
        return self.file("tiny.yaml", yaml.safe_dump(tree))


Scenario = Callable[[Situation], list[str]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(row_id: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[row_id] = function
        return function

    return register


# -- text and corpora ---------------------------------------------------------------------------


@scenario("text-missing")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--data", str(s.tmp / "nope.txt")]


@scenario("text-directory")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--data", str(s.tmp)]


@scenario("text-empty")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--data", str(s.file("empty.txt", ""))]


@scenario("text-too-short")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--data", str(s.file("short.txt", "abcdefghij" * 5))]


@scenario("text-not-utf8")
def _(s: Situation) -> list[str]:
    latin1 = s.file("latin1.txt", "café crème brûlée ".encode("latin-1") * 100)
    return ["train", str(s.config()), "--data", str(latin1)]


@scenario("text-cache-unwritable")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setenv("CHARNN_CACHE_DIR", str(s.file("a-file", "not a folder") / "cache"))
    return ["train", str(s.config())]


@scenario("text-binary")
def _(s: Situation) -> list[str]:
    import gzip

    return ["train", str(s.config()), "--data", str(s.file("x.gz", gzip.compress(b"text" * 99)))]


@scenario("text-unknown-encoding")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "data.encoding=klingon"]


@scenario("source-unknown")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "data.source=wiki", "--out-dir", str(s.tmp / "r")]


@scenario("download-offline")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setenv("CHARNN_DATA_DIR", str(s.tmp / "cache"))
    s.monkeypatch.setitem(
        corpus.REMOTE_CORPORA,
        "tinyshakespeare",
        RemoteCorpus("ts.txt", "http://127.0.0.1:9/input.txt", "0" * 64),
    )
    s.monkeypatch.setattr("charnn.data.download.RETRIES", 0)
    s.monkeypatch.setattr(corpus, "download", lambda *a, **k: _download_without_retries(*a, **k))
    return ["train", "--set", "data.source=tinyshakespeare", "--out-dir", str(s.tmp / "r")]


def _download_without_retries(*args: object, **kwargs: object) -> Path:
    from charnn.data.download import download

    return download(*args, **kwargs, retries=0)  # type: ignore[arg-type]


@scenario("download-mismatch")
def _(s: Situation) -> list[str]:
    server = _serve(s, b"not the text you are looking for\n")
    s.monkeypatch.setenv("CHARNN_DATA_DIR", str(s.tmp / "cache"))
    s.monkeypatch.setitem(
        corpus.REMOTE_CORPORA, "tinyshakespeare", RemoteCorpus("ts.txt", server, "0" * 64)
    )
    return ["train", "--set", "data.source=tinyshakespeare", "--out-dir", str(s.tmp / "r")]


def _serve(s: Situation, payload: bytes) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    s.monkeypatch.setattr(s, "stop_server", httpd.shutdown, raising=False)
    return f"http://127.0.0.1:{httpd.server_address[1]}/input.txt"


# -- config files and overrides -----------------------------------------------------------------


@scenario("config-missing")
def _(s: Situation) -> list[str]:
    return ["train", str(s.tmp / "nope.yaml")]


@scenario("config-yaml-syntax")
def _(s: Situation) -> list[str]:
    return ["train", str(s.file("bad.yaml", "model:\n  cell: lstm\n   hidden_size: 3\n"))]


@scenario("config-not-a-mapping")
def _(s: Situation) -> list[str]:
    return ["train", str(s.file("list.yaml", "- lstm\n- 256\n"))]


@scenario("config-unknown-key")
def _(s: Situation) -> list[str]:
    return ["train", str(s.file("typo.yaml", "model:\n  hiden_size: 128\n"))]


@scenario("override-unknown-key")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "train.learning_rate=0.01"]


@scenario("override-syntax")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "model.hidden_size"]


@scenario("config-wrong-type")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "model.hidden_size=big"]


@scenario("config-size-not-positive")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "model.hidden_size=0"]


@scenario("config-batch-not-positive")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "train.batch_size=-4"]


@scenario("config-dropout-range")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "model.dropout=1"]


@scenario("config-lr-not-positive")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "train.lr=0"]


@scenario("config-fraction-range")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "data.val_fraction=1.5"]


@scenario("config-never-stops")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "train.max_steps=null"]


@scenario("config-bad-choice")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "model.cell=transformer"]


@scenario("usage-bad-option-value")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--length", "lots"]


@scenario("usage-unknown-option")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--lenght", "10"]


# -- sampling and scoring -----------------------------------------------------------------------


@scenario("sample-temperature")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--temperature", "-1"]


@scenario("sample-top-p")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--top-p", "0"]


@scenario("sample-top-k")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--top-k", "-2"]


@scenario("sample-length")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--length", "-5"]


@scenario("sample-num-samples")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--num-samples", "0"]


@scenario("prime-unseen-chars")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--prime", "Ωmega θ"]


@scenario("replacement-unseen")
def _(s: Situation) -> list[str]:
    args = ["--prime", "Ωmega", "--unknown-chars", "replace", "--replace-with", "θ"]
    return ["sample", str(s.trained_run), *args]


@scenario("unknown-chars-policy")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_run), "--prime", "Ω", "--unknown-chars", "skip"]


@scenario("eval-text-unseen-chars")
def _(s: Situation) -> list[str]:
    text = s.file("greek.txt", "the quick brown fox, or αλεπού\n")
    return ["eval", str(s.trained_run), "--text-file", str(text)]


@scenario("eval-text-not-utf8")
def _(s: Situation) -> list[str]:
    text = s.file("latin1.txt", "the fox sat on the café mat\n".encode("latin-1"))
    return ["eval", str(s.trained_run), "--text-file", str(text)]


@scenario("eval-text-too-short")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_run), "--text-file", str(s.file("one.txt", "t"))]


@scenario("eval-unknown-split")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_run), "--split", "dev"]


@scenario("eval-window")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_run), "--window", "0"]


@scenario("eval-unknown-encoding")
def _(s: Situation) -> list[str]:
    text = s.file("other.txt", "to be or not to be")
    return ["eval", str(s.trained_run), "--text-file", str(text), "--encoding", "klingon"]


@scenario("eval-unknown-errors")
def _(s: Situation) -> list[str]:
    text = s.file("other.txt", "to be or not to be")
    return ["eval", str(s.trained_run), "--text-file", str(text), "--errors", "skip"]


@scenario("eval-no-test-split")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.tiny_run()), "--split", "test"]


@scenario("eval-corpus-changed")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    s.corpus_file.write_text(s.corpus_file.read_text().replace("fox", "cat"), encoding="utf-8")
    return ["eval", str(run)]


# -- checkpoints and run directories ------------------------------------------------------------


@scenario("checkpoint-missing")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.tmp / "runs" / "nope")]


@scenario("run-without-checkpoint")
def _(s: Situation) -> list[str]:
    (s.tmp / "empty-run").mkdir()
    return ["eval", str(s.tmp / "empty-run")]


@scenario("checkpoint-truncated")
def _(s: Situation) -> list[str]:
    data = (s.trained_run / "best.pt").read_bytes()
    return ["sample", str(s.file("best.pt", data[: len(data) // 2]))]


@scenario("checkpoint-foreign")
def _(s: Situation) -> list[str]:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, s.tmp / "model.pt")
    return ["eval", str(s.tmp / "model.pt")]


@scenario("checkpoint-newer-format")
def _(s: Situation) -> list[str]:
    raw = torch.load(s.trained_run / "best.pt", weights_only=True)
    raw["format_version"] = 99
    torch.save(raw, s.tmp / "future.pt")
    return ["sample", str(s.tmp / "future.pt")]


@scenario("checkpoint-checksum")
def _(s: Situation) -> list[str]:
    raw = torch.load(s.trained_run / "best.pt", weights_only=True)
    raw["model"]["head.bias"][0] += 0.5
    torch.save(raw, s.tmp / "edited.pt")
    return ["sample", str(s.tmp / "edited.pt")]


class _PlantsAFile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


@scenario("checkpoint-code")
def _(s: Situation) -> list[str]:
    with (s.tmp / "evil.pt").open("wb") as file:
        torch.save({"format": "charnn-checkpoint", "x": _PlantsAFile(s.tmp / "pwned")}, file)
    s.monkeypatch.setattr(s, "must_not_exist", s.tmp / "pwned", raising=False)
    return ["sample", str(s.tmp / "evil.pt")]


@scenario("run-exists")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    return ["train", str(s.config()), "--out-dir", str(run)]


@scenario("run-in-use")
def _(s: Situation) -> list[str]:
    run = s.tmp / "busy"
    lock = training_lock(run)
    lock.__enter__()  # held by "another" training (released when the test ends)
    s.monkeypatch.setattr(s, "release", lambda: lock.__exit__(None, None, None), raising=False)
    return ["train", str(s.config()), "--out-dir", str(run)]


@scenario("config-keys-unknown")
def _(s: Situation) -> list[str]:
    return ["config", "keys", "trian"]


@scenario("config-list-empty")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setattr("charnn.presets.preset_dir", lambda: s.tmp / "nothing-here")
    return ["config", "list"]


@scenario("sample-every-classify")
def _(s: Situation) -> list[str]:
    return classify(s, s.bits_file(), "--set", "train.sample_every=100")


@scenario("tensorboard-missing")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    return ["train", str(s.config(tensorboard=True))]


@scenario("wandb-missing")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setitem(sys.modules, "wandb", None)
    return ["train", str(s.config()), "--set", "train.wandb_project=mine"]


@scenario("runs-no-folder")
def _(s: Situation) -> list[str]:
    return ["runs", "experiments"]


@scenario("checkpoint-is-export")
def _(s: Situation) -> list[str]:
    exported = s.tmp / "model.pt"
    result = CliRunner().invoke(app, ["export", str(s.trained_run), "--out", str(exported)])
    assert result.exit_code == 0, result.output
    return ["sample", str(exported), "--length", "5"]


@scenario("checkpoint-is-config")
def _(s: Situation) -> list[str]:
    return ["sample", str(REPO_ROOT / "configs" / "quick.yaml")]


@scenario("resume-run-dir-as-config")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    s.monkeypatch.chdir(run.parent)
    return ["train", "--resume", run.name]


@scenario("checkpoint-disk-full")
def _(s: Situation) -> list[str]:
    # The first checkpoint finds the disk full part way through its bytes (status.json, a
    # few hundred bytes, still fits).
    disk_with_room(s.monkeypatch, 4096)
    return ["train", str(s.config())]


@scenario("resume-in-use")
def _(s: Situation) -> list[str]:
    run = s.tmp / "busy"
    lock = training_lock(run)
    lock.__enter__()  # "another" training that has not written last.pt yet
    s.monkeypatch.setattr(s, "release", lambda: lock.__exit__(None, None, None), raising=False)
    return ["train", "--resume", "--out-dir", str(run)]


@scenario("resume-nothing")
def _(s: Situation) -> list[str]:
    return ["train", "--resume", "--out-dir", str(s.tmp / "never-trained")]


@scenario("resume-and-overwrite")
def _(s: Situation) -> list[str]:
    return ["train", "--resume", "--overwrite"]


@scenario("resume-frozen-key")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    return ["train", "--resume", "--out-dir", str(run), "--set", "model.hidden_size=64"]


@scenario("resume-corpus-changed")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    s.corpus_file.write_text(s.corpus_file.read_text().replace("fox", "cat"), encoding="utf-8")
    return ["train", "--resume", "--out-dir", str(run), "--set", "train.max_steps=30"]


@scenario("checkpoint-write-fails")
def _(s: Situation) -> list[str]:
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(".tmp"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    s.monkeypatch.setattr(atomic.os, "open", read_only)
    return ["train", str(s.config())]


# -- devices and resources ----------------------------------------------------------------------


@scenario("device-no-cuda")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return ["sample", str(s.trained_run), "--device", "cuda"]


@scenario("device-unknown")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_run), "--device", "tpu"]


@scenario("out-of-memory")
def _(s: Situation) -> list[str]:
    def no_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    s.monkeypatch.setattr(trainer, "train_step", no_memory)
    return ["train", str(s.config())]


@scenario("training-diverged")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "train.lr=1e38", "--set", "train.grad_clip=0"]


@scenario("interrupted")
def _(s: Situation) -> list[str]:
    original = trainer.train_step
    calls: list[int] = []

    def step_then_sigterm(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would; handled between steps
        return original(*args, **kwargs)  # type: ignore[arg-type]

    s.monkeypatch.setattr(trainer, "train_step", step_then_sigterm)
    return ["train", str(s.config())]


@scenario("export-unknown-format")
def _(s: Situation) -> list[str]:
    return ["export", str(s.trained_run), "--format", "tflite", "--out", str(s.tmp / "m.pt")]


@scenario("export-onnx-missing")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` fails
    return ["export", str(s.trained_run), "--format", "onnx", "--out", str(s.tmp / "m.onnx")]


@scenario("export-onnx-old-torch")
def _(s: Situation) -> list[str]:
    without_time_loops(s.monkeypatch)  # as torch 2.10 exports an LSTM
    return ["export", str(s.trained_run), "--format", "onnx", "--out", str(s.tmp / "m.onnx")]


@scenario("config-unknown-tokenizer")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "data.tokenizer=words"]


@scenario("config-eval-chars")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "train.eval_chars=1"]


@scenario("ddp-batch-indivisible")
def _(s: Situation) -> list[str]:
    # As rank 1 of 4 would see it; the shares are cut before any process talks to another.
    from charnn.training import world as distributed

    def world_of_four(device: object) -> distributed.World:
        return distributed.World(rank=1, size=4, local_rank=1)

    s.monkeypatch.setattr("charnn.training.loop.join_world", world_of_four)
    s.monkeypatch.setattr(distributed.World, "on_main", lambda self, work: None)
    return ["train", str(s.config(batch_size=6))]


@scenario("ddp-not-torchrun")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setenv("WORLD_SIZE", "2")
    s.monkeypatch.delenv("RANK", raising=False)
    return ["train", str(s.config())]


@scenario("compile-failed")
def _(s: Situation) -> list[str]:
    def no_compiler(graph: object, inputs: object) -> object:
        raise RuntimeError("No working C++ compiler found")

    s.monkeypatch.setattr("charnn.platform.compile.COMPILE_BACKEND", no_compiler)
    return ["train", str(s.config(compile=True))]


# -- sequence classification --------------------------------------------------------------------


def classify(s: Situation, data: Path, *extra: str) -> list[str]:
    return ["train", str(s.config()), "--set", "task=classify", "--data", str(data), *extra]


@scenario("classify-no-data")
def _(s: Situation) -> list[str]:
    return ["train", "--set", "task=classify", "--out-dir", str(s.tmp / "run")]


@scenario("classify-bytes")
def _(s: Situation) -> list[str]:
    return classify(s, s.bits_file(), "--set", "data.tokenizer=bytes")


@scenario("classify-mixed-directory")
def _(s: Situation) -> list[str]:
    (s.tmp / "mixed" / "b").mkdir(parents=True)
    (s.tmp / "mixed" / "a.txt").write_text("x\n")
    (s.tmp / "mixed" / "b" / "1.txt").write_text("y")
    return classify(s, s.tmp / "mixed")


@scenario("classify-no-tab")
def _(s: Situation) -> list[str]:
    return classify(s, s.file("x.tsv", "pos\tfine\nno tab here\n"))


@scenario("classify-empty-text")
def _(s: Situation) -> list[str]:
    return classify(s, s.file("x.tsv", "pos\tfine\nneg\t   \n"))


@scenario("classify-label-newline")
def _(s: Situation) -> list[str]:
    return classify(s, s.file("x.jsonl", '{"text": "a", "label": "x\\ny"}\n'))


@scenario("classify-one-label")
def _(s: Situation) -> list[str]:
    return classify(s, s.file("x.tsv", "".join(f"only\ttext {i}\n" for i in range(20))))


@scenario("classify-label-too-rare")
def _(s: Situation) -> list[str]:
    rows = "".join(f"common\ttext {i}\n" for i in range(30)) + "rare\tlonely\n"
    return classify(s, s.file("x.tsv", rows))


@scenario("classify-val-path-unseen-label")
def _(s: Situation) -> list[str]:
    val = s.file("val.tsv", "ones\t111\nnew\t000\n")
    return classify(s, s.bits_file(), "--set", f"data.val_path={val}")


@scenario("classify-bidirectional-lm")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "model.bidirectional=true"]


@scenario("classify-key-for-lm")
def _(s: Situation) -> list[str]:
    return ["train", str(s.config()), "--set", "model.pooling=mean"]


@scenario("classify-resume-changes-task")
def _(s: Situation) -> list[str]:
    run = s.tiny_run()
    return ["train", "--resume", "--out-dir", str(run), "--set", "task=classify"]


@scenario("classify-predict-on-lm")
def _(s: Situation) -> list[str]:
    return ["predict", str(s.trained_run), "Abe"]


@scenario("classify-predict-nothing")
def _(s: Situation) -> list[str]:
    return ["predict", str(s.trained_classifier)]


@scenario("classify-top-k")
def _(s: Situation) -> list[str]:
    return ["predict", str(s.trained_classifier), "0101", "--top-k", "0"]


@scenario("classify-sample")
def _(s: Situation) -> list[str]:
    return ["sample", str(s.trained_classifier)]


@scenario("classify-eval-window")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_classifier), "--window", "64"]


@scenario("classify-eval-unseen-labels")
def _(s: Situation) -> list[str]:
    return [
        "eval",
        str(s.trained_classifier),
        "--file",
        str(s.file("more.tsv", "ones\t111\nnew\t0\n")),
    ]


def tune_config(s: Situation, **tune: object) -> Path:
    tree = {**tiny_tree(s.corpus_file, s.tmp / "unused", eval_every=5), "tune": tune or None}
    return s.file("tune.yaml", yaml.safe_dump(tree))


@scenario("tune-no-limit")
def _(s: Situation) -> list[str]:
    return ["tune", str(tune_config(s)), "--study", str(s.tmp / "study")]


@scenario("tune-duration")
def _(s: Situation) -> list[str]:
    return ["tune", str(tune_config(s)), "--time", "soon"]


@scenario("tune-unknown-key")
def _(s: Situation) -> list[str]:
    config = tune_config(s, **{"model.colour": [1, 2]})
    return ["tune", str(config), "--trials", "1", "--study", str(s.tmp / "study")]


@scenario("tune-stopped-study")
def _(s: Situation) -> list[str]:
    pytest.importorskip("sqlite3", reason="the study store is SQLite, which this Python lacks")
    config = tune_config(s, **{"model.hidden_size": 8, "train.batch_size": 4})
    args = ["tune", str(config), "--study", str(s.tmp / "study"), "--trial-time", "1s"]
    result = CliRunner().invoke(app, [*args, "--trials", "2"])
    assert result.exit_code == 0, result.output
    return [*args, "--trials", "3"]


@scenario("tune-bad-storage")
def _(s: Situation) -> list[str]:
    config = tune_config(s)
    return ["tune", str(config), "--trials", "1", "--storage", "nosuchdb://x"]


@scenario("tune-no-optuna")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setitem(sys.modules, "optuna", None)
    return ["tune", str(tune_config(s)), "--trials", "5", "--study", str(s.tmp / "study")]


@scenario("inspect-no-text")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_run)]


@scenario("inspect-units-syntax")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_run), "--text", "to be", "--units", "a,b"]


@scenario("inspect-unit-range")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_run), "--text", "to be", "--units", "999"]


@scenario("inspect-pattern-invalid")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_run), "--text", "to be", "--pattern", "("]


@scenario("inspect-pattern-no-match")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_run), "--text", "to be", "--pattern", "xyz"]


@scenario("inspect-sequences")
def _(s: Situation) -> list[str]:
    return ["inspect", str(s.trained_sequences), "--text", "1"]


def npz(s: Situation, name: str, **arrays: object) -> Path:
    path = s.tmp / name
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@scenario("sequences-objects")
def _(s: Situation) -> list[str]:
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(2), np.zeros(3)]
    return classify(s, npz(s, "objects.npz", x=ragged, y=np.zeros(2)))


@scenario("sequences-no-x")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", data=np.zeros((4, 3)), y=np.zeros(4)))


@scenario("sequences-no-y")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", x=np.zeros((4, 3))))


@scenario("sequences-keras-incomplete")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", x_train=np.zeros((4, 3)), y_train=np.zeros(4)))


@scenario("sequences-rank")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", x=np.zeros(4), y=np.zeros(4)))


@scenario("sequences-not-numbers")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", x=np.array([["a", "b"]] * 4), y=np.zeros(4)))


@scenario("sequences-count-mismatch")
def _(s: Situation) -> list[str]:
    return classify(s, npz(s, "d.npz", x=np.zeros((3, 2)), y=np.zeros(4)))


@scenario("sequences-lengths")
def _(s: Situation) -> list[str]:
    lengths = np.array([1, 3, 2])
    return classify(s, npz(s, "d.npz", x=np.zeros((3, 2)), y=np.zeros(3), lengths=lengths))


@scenario("sequences-not-finite")
def _(s: Situation) -> list[str]:
    x = np.zeros((4, 3))
    x[2, 1] = np.inf
    return classify(s, npz(s, "d.npz", x=x, y=np.arange(4) % 2))


@scenario("sequences-not-npz")
def _(s: Situation) -> list[str]:
    return classify(s, s.file("d.npz", "label\ttext\n"))


@scenario("sequences-mnist-offline")
def _(s: Situation) -> list[str]:
    s.monkeypatch.setenv("CHARNN_DATA_DIR", str(s.tmp / "cache"))
    s.monkeypatch.setitem(
        sequences.REMOTE_ARRAYS,
        "mnist",
        RemoteCorpus("mnist.npz", "http://127.0.0.1:9/mnist.npz", "0" * 64),
    )
    s.monkeypatch.setattr(corpus, "download", lambda *a, **k: _download_without_retries(*a, **k))
    return classify(s, Path("mnist"))


@scenario("sequences-predict-texts")
def _(s: Situation) -> list[str]:
    return ["predict", str(s.trained_sequences), "0101"]


@scenario("sequences-eval-text-file")
def _(s: Situation) -> list[str]:
    return ["eval", str(s.trained_sequences), "--file", str(s.file("more.tsv", "ones\t111\n"))]


@scenario("sequences-features")
def _(s: Situation) -> list[str]:
    rows = npz(s, "rows.npz", x=np.zeros((2, 5, 3)))
    return ["predict", str(s.trained_sequences), "--file", str(rows)]


# -- the test -----------------------------------------------------------------------------------

ROWS = read_catalogue()


def test_every_row_has_a_scenario_and_every_scenario_a_row() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids)), "duplicate ids in docs/errors.md"
    assert sorted(ids) == sorted(SCENARIOS)


@pytest.fixture
def situation(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    corpus_file: Path,
    trained_run: Path,
    trained_classifier: Path,
    trained_sequence_classifier: Path,
) -> Iterator[Situation]:
    monkeypatch.chdir(tmp_path)
    state = Situation(
        tmp_path,
        monkeypatch,
        corpus_file,
        trained_run,
        trained_classifier,
        trained_sequence_classifier,
    )
    yield state
    for cleanup in ("release", "stop_server"):
        if hasattr(state, cleanup):
            getattr(state, cleanup)()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_the_catalogue_row_holds(row: Row, situation: Situation) -> None:
    args = SCENARIOS[row.id](situation)
    result: Result = CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == row.exit_code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if row.id.startswith("usage-") or row.exit_code == 0:  # click's usage block; warnings
        assert _contains(result.stderr, row.fragment), result.stderr
        return
    lines = [line for line in result.stderr.splitlines() if line.startswith("charnn: ")]
    assert len(lines) == 1, result.stderr
    assert _contains(lines[0], row.fragment), lines[0]
    assert result.stdout == "" or row.id == "interrupted", result.stdout
    if hasattr(situation, "must_not_exist"):
        assert not situation.must_not_exist.exists()  # loading ran no code
    if row.id in ("checkpoint-write-fails", "checkpoint-disk-full", "training-diverged"):
        _assert_no_broken_checkpoints(situation.tmp / "new-run")


def _contains(text: str, fragment: str) -> bool:
    """`fragment` in `text`, where each `…` in the fragment stands for any text."""
    pattern = ".*?".join(re.escape(part) for part in fragment.split("…"))
    return re.search(pattern, text, flags=re.DOTALL) is not None


def _assert_no_broken_checkpoints(run: Path) -> None:
    for name in ("last.pt", "best.pt"):
        if (run / name).exists():
            checkpoint = load_checkpoint(run / name)
            assert all(torch.isfinite(t).all() for t in checkpoint.model_state.values())
    assert not list(run.glob(".*.tmp"))
