from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from charnn import corpus as corpus_module
from charnn.config import DataConfig
from charnn.corpus import (
    REMOTE_CORPORA,
    RemoteCorpus,
    fetch_remote_corpus,
    load_corpus,
    read_text_file,
)
from charnn.download import download, sha256_of
from charnn.errors import DataError

from .conftest import SHARED_SHAKESPEARE

PAYLOAD = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/text":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A local HTTP server on 127.0.0.1: tests never touch the internet."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_verifies_and_renames(server: str, tmp_path: Path) -> None:
    target = tmp_path / "cache" / "text.txt"
    download(f"{server}/text", target, sha256=PAYLOAD_SHA, what="test text", fix="do X")
    assert target.read_bytes() == PAYLOAD
    assert [p.name for p in target.parent.iterdir()] == ["text.txt"]


def test_a_hash_mismatch_deletes_the_download(server: str, tmp_path: Path) -> None:
    target = tmp_path / "text.txt"
    with pytest.raises(
        DataError, match=r"has sha256 .* expected 000000000000\.\.\.; the file was deleted; do X"
    ):
        download(f"{server}/text", target, sha256="0" * 64, what="test text", fix="do X")
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_no_network_name_the_way_out(server: str, tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"could not download test text .*HTTPError.*; pass data.path"
    ):
        download(
            f"{server}/missing",
            tmp_path / "t.txt",
            sha256=PAYLOAD_SHA,
            what="test text",
            fix="pass data.path",
            retries=0,
        )
    # A port nobody listens on: connection refused, as when offline.
    with pytest.raises(
        DataError, match=r"could not download test text .*ConnectionError.*; pass data.path"
    ):
        download(
            "http://127.0.0.1:9/text",
            tmp_path / "t.txt",
            sha256=PAYLOAD_SHA,
            what="test text",
            fix="pass data.path",
            retries=0,
        )
    assert list(tmp_path.iterdir()) == []


def test_named_remote_corpus_downloads_once_then_uses_the_cache(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARNN_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(
        REMOTE_CORPORA, "tinyshakespeare", RemoteCorpus("ts.txt", f"{server}/text", PAYLOAD_SHA)
    )
    corpus = load_corpus(DataConfig(source="tinyshakespeare"))
    assert corpus.text == PAYLOAD.decode() and corpus.name == "tinyshakespeare"
    monkeypatch.setitem(
        REMOTE_CORPORA,
        "tinyshakespeare",
        RemoteCorpus("ts.txt", "http://127.0.0.1:9/x", PAYLOAD_SHA),
    )
    assert fetch_remote_corpus("tinyshakespeare") == tmp_path / "ts.txt"  # no network needed now


def test_offline_error_names_data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARNN_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(
        REMOTE_CORPORA,
        "tinyshakespeare",
        RemoteCorpus("ts.txt", "http://127.0.0.1:9/x", PAYLOAD_SHA),
    )
    monkeypatch.setattr(corpus_module, "download", _no_retry_download)
    with pytest.raises(
        DataError, match=r"could not download tinyshakespeare.*--data PATH \(data.path\)"
    ):
        load_corpus(DataConfig(source="tinyshakespeare"))


def _no_retry_download(*args: object, **kwargs: object) -> Path:
    return download(*args, **kwargs, retries=0)  # type: ignore[arg-type]


@pytest.mark.skipif(
    not SHARED_SHAKESPEARE.is_file(), reason="shared Tiny Shakespeare copy not present"
)
def test_the_real_tiny_shakespeare_matches_the_pinned_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sha256_of(SHARED_SHAKESPEARE) == REMOTE_CORPORA["tinyshakespeare"].sha256
    monkeypatch.setenv("CHARNN_DATA_DIR", str(SHARED_SHAKESPEARE.parent))
    corpus = load_corpus(DataConfig(source="tinyshakespeare"))
    assert len(corpus.text) == 1_115_394 and corpus.text.startswith("First Citizen:")


def test_the_offline_corpus_ships_with_python() -> None:
    corpus = load_corpus(DataConfig())
    assert corpus.name == "pydoc-topics"
    assert len(corpus.text) > 100_000
    assert corpus.text == load_corpus(DataConfig()).text  # stable order


def test_a_local_path_wins_over_the_source(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("héllo\r\nworld", encoding="utf-8")
    corpus = load_corpus(DataConfig(path=str(path), source="tinyshakespeare"))
    assert corpus.text == "héllo\r\nworld"  # bytes as they are, no newline translation


def test_unknown_source() -> None:
    with pytest.raises(
        DataError, match=r"unknown data.source 'wiki'; use one of pydoc-topics, tinyshakespeare"
    ):
        load_corpus(DataConfig(source="wiki"))


def test_unreadable_text_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_text_file(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_text_file(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        read_text_file(empty)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café crème".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 at offset 3\).*iconv"):
        read_text_file(latin1)
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_text_file(binary)


def test_corpus_hash_identifies_the_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("abc", encoding="utf-8")
    assert load_corpus(DataConfig(path=str(path))).sha256 == hashlib.sha256(b"abc").hexdigest()
