"""The Python API: load_model, generate, score; the CLI is built on the same calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import charnn
from charnn.cli import app
from charnn.errors import CharnnError
from charnn.inference.evaluator import evaluate


def test_load_model_generate_and_score(trained_run: Path) -> None:
    model = charnn.load_model(trained_run)
    assert model.path == trained_run / "best.pt"
    text = model.generate("the ", length=60, temperature=0.8, seed=1)
    assert text.startswith("the ") and len(text) == 64
    assert model.generate("the ", length=60, temperature=0.8, seed=1) == text  # same seed
    greedy = model.generate("to be", length=30, temperature=0)
    assert greedy == model.generate("to be", length=30, temperature=0, seed=99)

    sentence = "the quick brown fox jumps over the lazy dog.\n"
    score = model.score(sentence)
    expected = evaluate(model.module, model.vocab.encode(sentence))
    assert score.loss == pytest.approx(expected.loss)
    assert score.bits_per_char == pytest.approx(score.loss / 0.6931471805599453)
    assert score.chars == len(sentence) - 1


def test_the_cli_prints_what_the_api_returns(trained_run: Path) -> None:
    model = charnn.load_model(trained_run)
    runner = CliRunner()
    sampled = runner.invoke(
        app, ["sample", str(trained_run), "--prime", "a ", "--length", "40", "--seed", "5"]
    )
    assert sampled.exit_code == 0, sampled.output
    assert sampled.stdout.rstrip("\n") == model.generate("a ", length=40, seed=5)
    scored = runner.invoke(app, ["eval", str(trained_run), "--json"])
    assert json.loads(scored.stdout)["loss"] == pytest.approx(model.score_split("val").loss)


def test_api_errors_are_charnn_errors(trained_run: Path, tmp_path: Path) -> None:
    with pytest.raises(CharnnError, match="does not exist"):
        charnn.load_model(tmp_path / "nothing-here")
    model = charnn.load_model(trained_run)
    with pytest.raises(CharnnError, match="never saw in training"):
        model.generate("§", length=5)
    assert model.generate("§", length=5, unknown_chars="drop", seed=0) != ""
    with pytest.raises(AttributeError):
        charnn.no_such_thing  # noqa: B018


def test_a_classifier_classifies_and_scores_files(trained_classifier: Path, tmp_path: Path) -> None:
    model = charnn.load_model(trained_classifier)
    assert model.classifies and model.labels == ["ones", "zeros"]
    (first,), both = model.classify(["11101"]), model.classify(["11101", "00010"], top_k=2)
    assert first[0][0] == "ones" and both[0][0] == first[0]
    assert [label for label, _ in both[1]] == ["zeros", "ones"]
    assert sum(p for _, p in both[1]) == pytest.approx(1.0)
    labelled = tmp_path / "more.jsonl"
    labelled.write_text('{"text": "1110111", "label": "ones"}\n{"text": "000", "label": "zeros"}\n')
    result = model.score_file(labelled)
    assert result.accuracy == 1.0 and result.examples == 2  # type: ignore[union-attr]
    with pytest.raises(CharnnError, match=r"classifier .* use classify\(texts\)"):
        model.generate("0101")
    with pytest.raises(CharnnError, match=r"unseen|never saw|'x'"):
        model.classify(["01x"])


def test_a_classifier_of_sequences_takes_raw_arrays(
    trained_sequence_classifier: Path, tmp_path: Path
) -> None:
    model = charnn.load_model(trained_sequence_classifier)
    assert model.classifies and model.labels == ["ones", "zeros"]
    bits = [[1, 1, 1, 0, 1], [0, 0, 0, 1, 0]]
    padded = np.array(bits, dtype=np.uint8)  # (N, T): one number a step, as stored
    as_array = model.classify(padded, top_k=2)
    assert [ranked[0][0] for ranked in as_array] == ["ones", "zeros"]
    # A list of (T, F) arrays of different lengths reads each at its own length.
    ragged = [np.array(bits[0])[:, None], np.array([0, 1, 0])[:, None]]
    (first, short) = model.classify(ragged)
    assert first[0] == as_array[0][0] and short[0][0] == "zeros"
    labelled = tmp_path / "more.npz"
    np.savez(labelled, x=padded, y=np.array(["ones", "zeros"]))
    result = model.score_file(labelled)
    assert result.accuracy == 1.0 and result.examples == 2  # type: ignore[union-attr]
    test = model.score_split("test")
    assert test.examples == 60 and test.accuracy >= 0.9  # type: ignore[union-attr]
    with pytest.raises(
        CharnnError, match=r"the input has 3 number\(s\) per step; this model reads 1"
    ):
        model.classify(np.zeros((2, 4, 3)))
    with pytest.raises(CharnnError, match="NaN or infinite"):
        model.classify(np.array([[0.0, np.nan]]))
    with pytest.raises(CharnnError, match="reads sequences of numbers"):
        model.vocab  # noqa: B018


def test_a_classifier_of_texts_refuses_an_array(trained_classifier: Path) -> None:
    with pytest.raises(CharnnError, match="classifies texts; give a list of strings"):
        charnn.load_model(trained_classifier).classify(np.zeros((2, 3)))


def test_a_language_model_has_no_labels_to_predict(trained_run: Path) -> None:
    with pytest.raises(CharnnError, match=r"language model \(task: lm\).*use generate\(\)"):
        charnn.load_model(trained_run).classify(["anything"])


def test_the_training_split_can_be_scored_too(trained_run: Path, trained_classifier: Path) -> None:
    model = charnn.load_model(trained_run)
    train, val = model.score_split("train"), model.score_split("val")
    assert train.chars > 4 * val.chars  # type: ignore[union-attr]
    result = charnn.load_model(trained_classifier).score_split("train")
    assert result.examples == 480  # type: ignore[union-attr]  # 600 - 60 val - 60 test
