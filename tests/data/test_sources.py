from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charnn.config import DataConfig
from charnn.data import sources as corpus_module
from charnn.data.download import download
from charnn.data.sources import (
    REMOTE_CORPORA,
    RemoteCorpus,
    fetch_remote_corpus,
    load_corpus,
    read_text_file,
)
from charnn.errors import ConfigError, DataError
from charnn.platform.digest import file_sha256

from ..conftest import SHARED_SHAKESPEARE

PAYLOAD = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


STALL_S = 30.0
"""How long /stall keeps the connection silent at most (the test's end releases it sooner): far
past the timeouts the tests set, so only a timeout can end the download in time."""


class _Handler(http.server.BaseHTTPRequestHandler):
    """/text: the payload. /flaky: 503 twice, then the payload. /busy: always 503.
    /stall: the headers, then silence. Anything else: 404."""

    def do_GET(self) -> None:
        hits = self.server.hits  # type: ignore[attr-defined]
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/text" or (self.path == "/flaky" and hits[self.path] > 2):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path in ("/flaky", "/busy"):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:5])
            self.wfile.flush()
            self.server.released.wait(STALL_S)  # type: ignore[attr-defined]
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_and_hits() -> Iterator[tuple[str, dict[str, int]]]:
    """A local HTTP server on 127.0.0.1: tests never touch the internet."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hits = {}  # type: ignore[attr-defined]  # requests per path
    httpd.released = threading.Event()  # type: ignore[attr-defined]  # ends the stalls
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.hits  # type: ignore[attr-defined]
    finally:
        httpd.released.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(server_and_hits: tuple[str, dict[str, int]]) -> str:
    return server_and_hits[0]


def test_transient_errors_are_retried_with_backoff(
    server_and_hits: tuple[str, dict[str, int]], tmp_path: Path
) -> None:
    server, hits = server_and_hits
    target = tmp_path / "text.txt"
    started = time.monotonic()
    download(f"{server}/flaky", target, sha256=PAYLOAD_SHA, what="t", fix="f", backoff_s=0.2)
    # Three tries: the first retry at once, the second after 0.2 s of backoff.
    assert hits["/flaky"] == 3 and 0.2 <= time.monotonic() - started < 5
    assert target.read_bytes() == PAYLOAD
    with pytest.raises(
        DataError, match=r"after 3 attempts \(the server kept answering with an error status\)"
    ):
        download(
            f"{server}/busy",
            target,
            sha256=PAYLOAD_SHA,
            what="t",
            fix="f",
            retries=2,
            backoff_s=0.01,
        )
    assert hits["/busy"] == 3 and target.read_bytes() == PAYLOAD  # the good copy stays


def test_a_stalled_download_times_out_and_leaves_nothing(server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    timed_out = r"\(timed out: no connection within 1s or no data for 0\.3s\)"
    with pytest.raises(DataError, match=timed_out):
        download(
            f"{server}/stall",
            tmp_path / "t.txt",
            sha256=PAYLOAD_SHA,
            what="t",
            fix="f",
            retries=0,
            timeouts_s=(1.0, 0.3),
        )
    assert time.monotonic() - started < STALL_S / 2  # the read timeout ended it, not the server
    assert list(tmp_path.iterdir()) == []


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
        DataError, match=r"could not download test text .*\(HTTP 404 Not Found\); pass data.path"
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
        DataError, match=r"could not download test text .*\(cannot connect: no network.*; pass data"
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
    with pytest.raises(DataError, match=r"could not download tinyshakespeare.*data\.path=PATH"):
        load_corpus(DataConfig(source="tinyshakespeare"))


def _no_retry_download(*args: object, **kwargs: object) -> Path:
    return download(*args, **kwargs, retries=0)  # type: ignore[arg-type]


@pytest.mark.skipif(
    not SHARED_SHAKESPEARE.is_file(), reason="shared Tiny Shakespeare copy not present"
)
def test_the_real_tiny_shakespeare_matches_the_pinned_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    assert file_sha256(SHARED_SHAKESPEARE) == REMOTE_CORPORA["tinyshakespeare"].sha256
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
    with pytest.raises(
        DataError,
        match=r"not valid utf-8 \(byte 0xe9 at offset 3, line 1; .*data\.encoding.*data\.errors",
    ):
        read_text_file(latin1)
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(DataError, match="not valid utf-8"):
        read_text_file(binary)
    only_bad_bytes = tmp_path / "bad.txt"
    only_bad_bytes.write_bytes(b"\xff\xfe\xff")
    with pytest.raises(DataError, match="no text left after decoding"):
        read_text_file(only_bad_bytes, errors="ignore")


def test_the_encoding_and_error_policy_are_explicit(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café crème\r\n".encode("latin-1"))
    assert load_corpus(DataConfig(path=str(latin1), encoding="latin-1")).text == "café crème\r\n"
    replaced = load_corpus(DataConfig(path=str(latin1), errors="replace")).text
    assert replaced == "caf\ufffd cr\ufffdme\r\n"
    assert load_corpus(DataConfig(path=str(latin1), errors="ignore")).text == "caf crme\r\n"
    with pytest.raises(ConfigError, match=r"data\.encoding 'klingon' is not an encoding"):
        DataConfig(encoding="klingon")
    with pytest.raises(ConfigError, match=r"data\.errors must be one of strict, replace, ignore"):
        DataConfig(errors="surrogateescape")


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(FUZZ, max_examples=200)
@given(
    raw=st.binary(max_size=200),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    errors=st.sampled_from(["strict", "replace", "ignore"]),
)
def test_any_bytes_give_the_decoded_text_or_one_clear_error(
    tmp_path: Path, raw: bytes, encoding: str, errors: str
) -> None:
    path = tmp_path / "fuzz.txt"
    path.write_bytes(raw)
    try:
        text = read_text_file(path, encoding=encoding, errors=errors)
    except DataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        expected = None
        with contextlib.suppress(UnicodeDecodeError):
            expected = raw.decode(encoding, errors)
        assert not expected  # refused only when the bytes do not decode to any text
    else:
        assert text == raw.decode(encoding, errors) and text  # exactly the bytes, no newline games


@FUZZ
@given(text=st.text(min_size=1, max_size=100))
def test_any_utf8_text_reads_back_exactly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.txt"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):  # lone surrogates are not UTF-8
        with pytest.raises(DataError, match="not valid utf-8"):
            read_text_file(path)
    else:
        assert read_text_file(path) == text


def test_corpus_hash_identifies_the_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("abc", encoding="utf-8")
    assert load_corpus(DataConfig(path=str(path))).sha256 == hashlib.sha256(b"abc").hexdigest()


def test_downloads_are_cached_per_user_not_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiny Shakespeare was cached under ./data, so it downloaded again from every directory."""
    from charnn.data.sources import data_dir
    from charnn.data.token_cache import cache_dir

    monkeypatch.delenv("CHARNN_DATA_DIR", raising=False)
    monkeypatch.delenv("CHARNN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert data_dir() == tmp_path / "xdg" / "charnn" / "data"
    assert cache_dir() == tmp_path / "xdg" / "charnn" / "tokens"
    monkeypatch.setenv("CHARNN_CACHE_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine" / "data" and cache_dir() == tmp_path / "mine" / "tokens"
    monkeypatch.setenv("CHARNN_DATA_DIR", str(tmp_path / "corpora"))
    assert data_dir() == tmp_path / "corpora"
