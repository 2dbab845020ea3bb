"""Where training text comes from: a local file or a named corpus.

Named corpora:
- `pydoc-topics`: the help topics of Python's own documentation (`pydoc_data.topics`, about
  465 KB of English prose and code). It ships with every CPython, so the default config trains
  with no network. Its exact text varies a little between Python versions.
- `tinyshakespeare`: Karpathy's 1.1 MB Tiny Shakespeare, downloaded once from the char-rnn
  repository, sha256-checked and cached in the data folder (`$CHARNN_DATA_DIR`, default `data/`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from charnn.config import DataConfig
from charnn.data.download import download
from charnn.errors import DataError, key
from charnn.platform.cache import cache_root
from charnn.platform.digest import file_sha256

DATA_DIR_ENV = "CHARNN_DATA_DIR"


@dataclass(frozen=True)
class RemoteCorpus:
    filename: str
    url: str
    sha256: str


REMOTE_CORPORA = {
    "tinyshakespeare": RemoteCorpus(
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}
OFFLINE_CORPORA = ("pydoc-topics",)
SOURCES = (*OFFLINE_CORPORA, *REMOTE_CORPORA)


@dataclass(frozen=True)
class Corpus:
    text: str
    name: str
    """A file path or a corpus name, for messages and the checkpoint."""

    @cached_property
    def sha256(self) -> str:
        """Identifies the exact text, so a run can tell when its corpus has changed."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def data_dir() -> Path:
    """Where downloaded corpora are kept: $CHARNN_DATA_DIR, else the per-user cache's data/."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser() if configured else cache_root() / "data"


def load_corpus(data: DataConfig) -> Corpus:
    """The whole text a run trains and validates on."""
    if data.path is not None:
        text = read_text_file(Path(data.path), encoding=data.encoding, errors=data.errors)
        return Corpus(text=text, name=data.path)
    if data.source == "pydoc-topics":
        return Corpus(text=_pydoc_topics(), name="pydoc-topics")
    if data.source in REMOTE_CORPORA:
        path = fetch_remote_corpus(data.source)
        return Corpus(text=read_text_file(path), name=data.source)
    raise DataError(
        f"unknown data.source {data.source!r}; use one of {', '.join(SOURCES)}, "
        f"or give a text file as {key('data.path', 'PATH')}"
    )


TRAIN_DECODING_FIX = (
    f"if it is text in another encoding, set data.encoding (e.g. {key('data.encoding', 'latin-1')}"
    f"); to replace the bad bytes with U+FFFD instead, use {key('data.errors', 'replace')}; to "
    f"train on the raw bytes of any file, use {key('data.tokenizer', 'bytes')}"
)


def read_text_file(
    path: Path,
    *,
    what: str = "text file",
    encoding: str = "utf-8",
    errors: str = "strict",
    decoding_fix: str = TRAIN_DECODING_FIX,
) -> str:
    """Read a text file, turning each way it can be unusable into one clear DataError;
    `decoding_fix` says how to choose another encoding or error policy where the text is read."""
    raw = read_file_bytes(path, what=what)
    try:
        # Bytes are decoded as they are: no newline translation, so ids match the file exactly.
        text = raw.decode(encoding, errors)
    except UnicodeDecodeError as error:
        raise decode_error(
            path,
            encoding,
            byte=raw[error.start],
            offset=error.start,
            line=raw.count(b"\n", 0, error.start) + 1,
            fix=decoding_fix,
            what=what,
        ) from None
    if not text:
        raise DataError(f"{what} {path} has no text left after decoding; check the encoding")
    return text


def decode_error(
    path: Path,
    encoding: str,
    *,
    byte: int,
    offset: int,
    fix: str,
    what: str = "text file",
    line: int | None = None,
) -> DataError:
    """The one message for a file that is not valid text in `encoding` (`line`: where the byte
    is, when known)."""
    where = f"at offset {offset}" + (f", line {line}" if line is not None else "")
    return DataError(
        f"{what} {path} is not valid {encoding} (byte 0x{byte:02x} {where}; a binary file?); {fix}"
    )


def read_file_bytes(path: Path, *, what: str = "text file") -> bytes:
    """A file's bytes, or one clear DataError when it is missing, a folder, unreadable or empty."""
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path")
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory; give a text file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if not raw:
        raise DataError(f"{what} {path} is empty; give a file with text in it")
    return raw


def fetch_remote_corpus(name: str) -> Path:
    """The cached file of a named remote corpus, downloading it on first use."""
    return fetch_remote(REMOTE_CORPORA[name], name)


def fetch_remote(remote: RemoteCorpus, name: str) -> Path:
    """The cached file of `remote` (called `name` in messages), downloading it on first use."""
    path = data_dir() / remote.filename
    if path.is_file() and file_sha256(path) == remote.sha256:
        return path
    fix = (
        f"download it yourself and give it as {key('data.path', 'PATH')}, or put it at {path} "
        f"(set {DATA_DIR_ENV} to use another folder)"
    )
    return download(remote.url, path, sha256=remote.sha256, what=name, fix=fix)


def _pydoc_topics() -> str:
    from pydoc_data.topics import topics

    # Sorted by topic name so the text is the same however the dict was built.
    return "".join(topics[name] for name in sorted(topics))
