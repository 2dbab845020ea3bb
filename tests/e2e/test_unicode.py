"""Any language, any file: Chinese and mixed scripts as characters, any file as bytes, end to end
through the CLI (train, sample, eval). Sampling runs in a real process, whose stdout must carry
the text as UTF-8 bytes; training and scoring run through the same app in this one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.cli import app
from charnn.data.vocab import ByteVocab, Utf8Decoder

from ..conftest import tiny_tree

CHINESE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n" * 40
MIXED = "Hello 世界! こんにちは 🌍🎉 Привет مرحبا café\n" * 40


def test_the_utf8_decoder_holds_back_partial_characters() -> None:
    decoder = Utf8Decoder()
    pieces = [decoder.feed(byte) for byte in "a世🌍".encode()]
    assert pieces == ["a", "", "", "世", "", "", "", "🌍"]
    assert [decoder.feed(byte) for byte in "世".encode()[:2]] == ["", ""]
    assert decoder.flush() == "\ufffd"  # the stream ended inside a character
    invalid = Utf8Decoder()
    assert invalid.feed(0xFF) == "\ufffd"  # never a valid start: replaced at once


def test_the_byte_vocabulary_reads_text_as_utf8() -> None:
    vocab = ByteVocab()
    ids = vocab.encode("é世")
    assert ids.tolist() == list("é世".encode()) and len(vocab) == 256
    assert vocab.decode(ids) == "é世" and vocab.unknown_chars("🌍") == []
    assert ByteVocab.from_dict(vocab.to_dict()) == vocab


def train_run(tmp_path: Path, text: str, tokenizer: str) -> Path:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    tree = tiny_tree(corpus, tmp_path / "run", max_steps=60, eval_every=30, lr=2e-2)
    tree["data"]["tokenizer"] = tokenizer  # type: ignore[index]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    invoke("train", str(config))
    return tmp_path / "run"


def invoke(*args: str) -> str:
    """The command run through the app in this process; its stdout."""
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output[-2000:]
    return result.stdout


def charnn(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The command in a real process."""
    done = subprocess.run(
        [sys.executable, "-m", "charnn", *args], capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


@pytest.mark.parametrize(
    ("text", "tokenizer"),
    [(CHINESE, "chars"), (MIXED, "chars"), (MIXED, "bytes")],
    ids=["chinese-chars", "mixed-chars", "mixed-bytes"],
)
def test_train_sample_and_eval_in_any_script(
    text: str, tokenizer: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    run = train_run(tmp_path, text, tokenizer)
    checkpoint = load_checkpoint(run / "best.pt")
    assert checkpoint.vocab.tokenizer == tokenizer
    assert len(checkpoint.vocab) == (256 if tokenizer == "bytes" else len(set(text)))

    prime = "明月" if text is CHINESE else "世界 🌍"
    sample = charnn(
        "sample", str(run), "--prime", prime, "--length", "80", "--seed", "3", env=subprocess_env
    )
    printed = sample.stdout.decode("utf-8")  # strict: the output is valid UTF-8
    assert printed.startswith(prime) and len(printed) > len(prime)

    result = json.loads(invoke("eval", str(run), "--json"))
    assert 0 < result["loss"] < 6

    held_out = tmp_path / "held-out.txt"
    held_out.write_text(text[:200], encoding="utf-8")
    on_file = invoke("eval", str(run), "--text-file", str(held_out), "--json")
    assert (
        json.loads(on_file)["chars"]
        == len(text[:200].encode() if tokenizer == "bytes" else text[:200]) - 1
    )
