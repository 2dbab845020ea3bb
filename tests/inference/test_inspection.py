from __future__ import annotations

import math
from pathlib import Path

import pytest

import charnn
from charnn.errors import CharnnError
from charnn.inference.evaluator import evaluate

TEXT = "the quick brown fox.\nto be or not to be.\nthe lazy dog saves nine.\n"


def test_the_pages_bits_per_char_is_evals(trained_run: Path) -> None:
    model = charnn.load_model(trained_run)
    report = model.inspect(TEXT)
    scored = evaluate(model.module, model.vocab.encode(TEXT))  # type: ignore[arg-type]
    assert report["bits_per_char"] == pytest.approx(scored.bits_per_char, rel=1e-5)
    chars = report["chars"]
    assert len(chars) == len(TEXT) and chars[0]["bits"] is None
    for char in chars[1:]:
        probabilities = [p for _, p in char["top"]]
        assert len(char["top"]) == 5 and probabilities == sorted(probabilities, reverse=True)
        if char["rank"] == 1:  # the actual one is the likeliest: its surprisal is the top's
            assert char["bits"] == pytest.approx(-math.log2(probabilities[0]), rel=1e-4)


def test_units_come_as_asked_by_pattern_or_by_spread(trained_run: Path) -> None:
    model = charnn.load_model(trained_run)
    asked = model.inspect(TEXT + "##", units=[3, 0], unknown_chars="drop")["units"]
    assert [lane["unit"] for lane in asked["lanes"]] == [3, 0]
    assert len(asked["lanes"][0]["values"]) == len(TEXT)  # the unseen "#" dropped
    found = model.inspect("to be or not to be. the fox.", pattern=r"to be")["units"]
    scores = [abs(lane["score"]) for lane in found["lanes"]]
    assert "separate the matches of 'to be'" in found["how"]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    spread = model.inspect("to be or not to be.")["units"]
    assert spread["how"] == "the most variable units" and len(spread["lanes"]) == 6
    with pytest.raises(CharnnError, match="units has 999; this model's units are 0 to"):
        model.inspect("to be", units=[999])
    with pytest.raises(CharnnError, match="matches no character of the text"):
        model.inspect("to be", pattern="x")


def test_lines_rank_the_odd_one_first(trained_run: Path) -> None:
    model = charnn.load_model(trained_run)
    normal = "the quick brown fox jumps over the lazy dog.\n"
    odd = "god yzal eht revo spmuj xof nworb kciuq eht.\n"
    ranked = model.inspect(normal * 3 + odd + normal * 2, lines=True)["lines"]
    assert ranked[0]["line"] == 4 and ranked[0]["text"] == odd.strip()


def test_a_classifier_shows_its_labels_as_it_reads(trained_classifier: Path) -> None:
    report = charnn.load_model(trained_classifier).inspect(["1110111", "000"], top_k=2)
    first = report["texts"][0]
    assert first["top"][0][0] == "ones"
    assert set(first["curves"]) == {"ones", "zeros"}
    assert all(len(curve) == 7 for curve in first["curves"].values())
    assert 0 <= first["decided_at"] < 7


def test_sequences_of_numbers_have_nothing_to_inspect(trained_sequence_classifier: Path) -> None:
    with pytest.raises(CharnnError, match="inspect reads texts"):
        charnn.load_model(trained_sequence_classifier).inspect("0101")
