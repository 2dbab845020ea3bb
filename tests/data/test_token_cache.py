"""Token files: a corpus encoded once, in chunks, read memory-mapped, cached by content."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from charnn.data import token_cache as tokens
from charnn.data.vocab import ByteVocab, CharVocab
from charnn.errors import DataError

CHINESE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n" * 30
MIXED = "Hello 世界! こんにちは 🌍🎉 Привет مرحبا ½ café\n" * 30


def prepare(path: Path, tokenizer: str = "chars", **options: str) -> tokens.TokenFile:
    settings = {"encoding": "utf-8", "errors": "strict", **options}
    return tokens.prepare(path, tokenizer=tokenizer, decoding_fix="fix it", **settings)


@pytest.mark.parametrize("text", [CHINESE, MIXED], ids=["chinese", "mixed-scripts"])
def test_a_text_comes_back_exactly_from_its_token_file(text: str, tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    prepared = prepare(path)
    assert prepared.vocab == CharVocab.from_text(text)
    assert prepared.ids.dtype == torch.uint8  # fewer than 256 distinct characters
    assert prepared.vocab.decode(prepared.ids.long()) == text
    assert prepared.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_chunks_may_end_inside_a_character(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "CHUNK_BYTES", 7)  # cuts 3- and 4-byte characters apart
    path = tmp_path / "corpus.txt"
    path.write_text(MIXED, encoding="utf-8")
    prepared = prepare(path)
    assert prepared.vocab.decode(prepared.ids.long()) == MIXED
    assert prepared.sha256 == hashlib.sha256(MIXED.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("symbols", "id_type"), [(300, torch.uint16), (70_000, torch.int32)], ids=["uint16", "int32"]
)
def test_the_id_type_grows_with_the_vocabulary(
    symbols: int, id_type: torch.dtype, tmp_path: Path
) -> None:
    text = "".join(chr(0x20000 + index) for index in range(symbols))  # CJK extension planes
    path = tmp_path / "corpus.txt"
    path.write_text(text * 2, encoding="utf-8")
    prepared = prepare(path)
    assert len(prepared.vocab) == symbols and prepared.ids.dtype == id_type
    assert prepared.vocab.decode(prepared.ids.long()) == text * 2


def test_another_encoding_is_decoded_before_counting(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("déjà vu, naïve café\n".encode("latin-1") * 10)
    prepared = prepare(path, encoding="latin-1")
    assert prepared.vocab.decode(prepared.ids.long()) == "déjà vu, naïve café\n" * 10
    text_as_utf8 = ("déjà vu, naïve café\n" * 10).encode("utf-8")  # not the file's bytes
    assert prepared.sha256 == hashlib.sha256(text_as_utf8).hexdigest()


def test_bad_bytes_far_into_the_file_are_named_with_their_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "CHUNK_BYTES", 64)
    path = tmp_path / "corpus.txt"
    good = "é" * 100  # 200 bytes: the bad one is in the fourth chunk, after a held-back byte
    path.write_bytes(good.encode("utf-8") + b"\xff rest")
    with pytest.raises(DataError, match=r"not valid utf-8 \(byte 0xff at offset 200; .*fix it"):
        prepare(path)
    replaced = prepare(path, errors="replace")
    assert replaced.vocab.decode(replaced.ids.long()) == good + "\ufffd rest"


def test_the_bytes_tokenizer_takes_any_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "binary.bin"
    data = bytes(range(256)) * 3 + "世界".encode()
    path.write_bytes(data)
    prepared = prepare(path, tokenizer="bytes")
    assert isinstance(prepared.vocab, ByteVocab) and prepared.ids.dtype == torch.uint8
    assert bytes(prepared.ids.tolist()) == data
    assert prepared.sha256 == hashlib.sha256(data).hexdigest()


def test_a_second_run_maps_the_cached_file_without_encoding_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(CHINESE, encoding="utf-8")
    first = prepare(path)

    def no_more_work(*args: object, **kwargs: object) -> object:
        raise AssertionError("prepared again")

    monkeypatch.setattr(tokens, "_write", no_more_work)
    monkeypatch.setattr(tokens, "file_sha256", no_more_work)  # not even hashed: stat matches
    second = prepare(path)
    assert second.path == first.path and torch.equal(second.ids, first.ids)


def test_a_changed_file_or_other_settings_get_their_own_token_file(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(CHINESE, encoding="utf-8")
    first = prepare(path)
    path.write_text(CHINESE + "新", encoding="utf-8")
    changed = prepare(path)
    assert changed.path != first.path and "新" in changed.vocab
    as_bytes = prepare(path, tokenizer="bytes")
    assert as_bytes.path not in (first.path, changed.path)


def test_a_torn_token_file_is_prepared_again(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(MIXED, encoding="utf-8")
    first = prepare(path)
    with first.path.open("r+b") as torn:
        torn.truncate(10)
    again = prepare(path)
    assert again.vocab.decode(again.ids.long()) == MIXED


def test_an_unwritable_cache_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(tokens.CACHE_ENV, str(blocker / "cache"))
    path = tmp_path / "corpus.txt"
    path.write_text(MIXED, encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot write the token cache .*set CHARNN_CACHE_DIR"):
        prepare(path)


@pytest.mark.parametrize(
    ("content", "problem"), [(None, "does not exist"), (b"", "is empty")], ids=["missing", "empty"]
)
def test_missing_and_empty_files_are_refused(
    content: bytes | None, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=problem):
        prepare(path)
