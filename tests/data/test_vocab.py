from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from charnn.data.vocab import CharVocab
from charnn.errors import DataError


@given(st.text(min_size=1))
def test_encode_decode_round_trip(text: str) -> None:
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == torch.long
    assert ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.tolist()) == text


@given(st.text(min_size=1))
def test_plain_data_round_trip(text: str) -> None:
    vocab = CharVocab.from_text(text)
    data = vocab.to_dict()
    assert isinstance(data["chars"], str)  # plain data: loads with weights_only=True
    assert CharVocab.from_dict(data) == vocab


def test_ids_follow_sorted_character_order() -> None:
    vocab = CharVocab.from_text("banana\n")
    assert vocab.chars == "\nabn"
    assert vocab.encode("nab").tolist() == [3, 1, 2]
    assert len(vocab) == 4
    assert "a" in vocab and "z" not in vocab


def test_unknown_characters_are_named_in_order_of_appearance() -> None:
    vocab = CharVocab.from_text("abc")
    assert vocab.unknown_chars("axbyxz") == ["x", "y", "z"]
    with pytest.raises(
        DataError, match=r"the prime has 2 character\(s\) the model never saw.*'é', '€'"
    ):
        vocab.encode("aé€", what="the prime")


def test_many_unknown_characters_are_summarised() -> None:
    vocab = CharVocab.from_text("a")
    with pytest.raises(DataError, match="and 16 more"):
        vocab.encode("".join(chr(0x4E00 + i) for i in range(26)))


def test_unicode_beyond_the_basic_plane() -> None:
    text = "héllo wörld 中文 🙂"
    vocab = CharVocab.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text


@pytest.mark.parametrize("data", [{}, {"chars": 3}, {"chars": ["a"]}, "abc"])
def test_malformed_stored_vocabularies(data: object) -> None:
    with pytest.raises(DataError, match="malformed"):
        CharVocab.from_dict(data)  # type: ignore[arg-type]


def test_empty_and_repeated_vocabularies_are_refused() -> None:
    with pytest.raises(DataError, match="empty"):
        CharVocab("")
    with pytest.raises(DataError, match="repeat"):
        CharVocab("aa")


def test_fit_handles_unseen_characters_by_policy(caplog: pytest.LogCaptureFixture) -> None:
    vocab = CharVocab("abc ")
    with pytest.raises(DataError, match=r"2 character\(s\).*'é', 'ü'.*unknown_chars=drop"):
        vocab.fit("aébü", policy="error", what="the prime text")
    with caplog.at_level("WARNING", logger="charnn"):
        assert vocab.fit("aébü", policy="drop", what="the prime text") == "ab"
    assert "dropped 2 unseen character(s) in the prime text: 'é', 'ü'" in caplog.text
    assert vocab.fit("aébü", policy="replace", what="x") == "a b "
    assert vocab.fit("aébü", policy="replace", replacement="c", what="x") == "acbc"
    assert vocab.fit("abc", policy="error", what="x") == "abc"
    with pytest.raises(DataError, match=r"replacement 'z' is not one character the model knows"):
        vocab.fit("aé", policy="replace", replacement="z", what="x")
