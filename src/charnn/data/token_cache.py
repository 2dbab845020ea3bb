"""The token cache: corpus files encoded once into memory-mapped token files.

A gigabyte of text as a Python string, then as a list of ids, needs many gigabytes of RAM
(char-rnn-tensorflow used about 20x the file size). Instead a corpus file is hashed (the cache
key), then read in chunks twice, and never held whole:

    pass 1: decode each chunk, count which code points occur   -> the vocabulary (sorted)
    pass 2: decode again, map code points to ids, append them  -> <cache>/<key>.ids

The ids are stored in the smallest type that holds them: uint8 for up to 256 symbols, uint16
for up to 65,536, int32 beyond (any code point fits). `<key>.json` beside them holds the
vocabulary, the id type, the count and the corpus hash. The key is a hash of the file's bytes
and of the settings that change the ids (tokenizer, encoding, errors policy), so a second run
on the same file maps the finished file and starts at once; to skip even re-hashing the file,
the cache also remembers each file's size and modification time (as `make` does) and hashes
again only when those change. The cache lives in $CHARNN_CACHE_DIR (default
~/.cache/charnn/tokens); deleting it is always safe.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from charnn.data.sources import decode_error, read_file_bytes
from charnn.data.vocab import ByteVocab, CharVocab
from charnn.errors import DataError
from charnn.platform.atomic import atomic_write
from charnn.platform.cache import CACHE_ROOT_ENV, cache_root
from charnn.platform.digest import file_sha256, tensor_bytes

CACHE_ENV = CACHE_ROOT_ENV
FORMAT_VERSION = 1
CHUNK_BYTES = 16 << 20
CODE_POINTS = 0x110000
ID_TYPES = {"uint8": torch.uint8, "uint16": torch.uint16, "int32": torch.int32}


@dataclass(frozen=True)
class TokenFile:
    """A prepared corpus: its ids (memory-mapped, 1-D) and what they mean."""

    ids: torch.Tensor
    vocab: CharVocab
    sha256: str
    """sha256 of the corpus text as UTF-8 (chars) or of the file's bytes (bytes): the
    identity a checkpoint keeps, to refuse resuming on other text."""
    path: Path


def cache_dir() -> Path:
    return cache_root() / "tokens"


def id_type_for(vocab_size: int) -> str:
    if vocab_size <= 1 << 8:
        return "uint8"
    if vocab_size <= 1 << 16:
        return "uint16"
    return "int32"


def prepare(
    path: Path, *, tokenizer: str, encoding: str, errors: str, decoding_fix: str
) -> TokenFile:
    """The token file of a corpus file: from the cache, or written now (then cached);
    `decoding_fix` says what to do when the file is not valid in `encoding`."""
    if not (path.is_file() and path.stat().st_size > 0):
        read_file_bytes(path)  # missing, a folder or empty: raises the one clear error for it
    folder = cache_dir()
    settings = {"tokenizer": tokenizer, "format": FORMAT_VERSION}
    if tokenizer == "chars":
        settings |= {"encoding": codecs.lookup(encoding).name, "errors": errors}
    remembered = _remembered_key(folder, path, settings)
    cached = _open(folder, remembered) if remembered else None
    if cached is not None:
        return cached
    content_sha256 = file_sha256(path)
    key = _key(content_sha256, settings)
    cached = _open(folder, key) or _write(
        folder, key, path, tokenizer, encoding, errors, decoding_fix, content_sha256
    )
    _remember_key(folder, path, settings, key)
    return cached


# -- writing ------------------------------------------------------------------------------------


def _write(
    folder: Path,
    key: str,
    path: Path,
    tokenizer: str,
    encoding: str,
    errors: str,
    decoding_fix: str,
    content_sha256: str,
) -> TokenFile:
    # The corpus identity is the sha256 of its text as UTF-8. When the ids come from the
    # file's bytes as they are (bytes tokenizer, or strict UTF-8), that is the file's own
    # hash, already taken; otherwise the decoded text is hashed as it is encoded.
    as_read = tokenizer == "bytes" or (
        errors == "strict" and codecs.lookup(encoding).name == "utf-8"
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if tokenizer == "bytes":
            vocab: CharVocab = ByteVocab()
            text_sha256 = _write_ids(folder / f"{key}.ids", _byte_chunks(path), None, "uint8")
        else:
            vocab = _scan_vocab(path, encoding, errors, decoding_fix)
            table = torch.full((CODE_POINTS,), -1, dtype=torch.int32)
            table[torch.tensor([ord(char) for char in vocab.chars])] = torch.arange(
                len(vocab), dtype=torch.int32
            )
            chunks = _code_point_chunks(path, encoding, errors, decoding_fix, hash_text=not as_read)
            text_sha256 = _write_ids(folder / f"{key}.ids", chunks, table, id_type_for(len(vocab)))
        sha256 = content_sha256 if as_read else text_sha256
        count = (folder / f"{key}.ids").stat().st_size // _item_size(id_type_for(len(vocab)))
        meta = {
            "format": FORMAT_VERSION,
            "vocab": vocab.to_dict(),
            "id_type": id_type_for(len(vocab)),
            "count": count,
            "sha256": sha256,
        }
        with atomic_write(folder / f"{key}.json") as out:
            out.write(json.dumps(meta).encode())
    except OSError as error:
        raise DataError(
            f"cannot write the token cache in {folder}: {error.strerror or error}; "
            f"set {CACHE_ENV} to a writable folder with room for the encoded corpus"
        ) from None
    opened = _open(folder, key)
    assert opened is not None
    return opened


def _write_ids(
    target: Path,
    chunks: Iterator[tuple[torch.Tensor, bytes]],
    table: torch.Tensor | None,
    id_type: str,
) -> str:
    """Append each chunk's ids (code points through `table`, or bytes as they are) to
    `target`, atomically; returns the sha256 of the chunks' text bytes (empty ones when the
    caller has no need of it)."""
    hasher = hashlib.sha256()
    with atomic_write(target) as out:
        for values, text_bytes in chunks:
            hasher.update(text_bytes)
            ids = values if table is None else table.index_select(0, values)
            if table is not None and bool((ids < 0).any()):  # not seen by pass 1
                raise DataError(
                    f"{target.name}: the corpus file changed while it was being read; "
                    "run again once it no longer changes"
                )
            compact = ids.to(ID_TYPES[id_type]).contiguous()
            if compact.numel():
                out.write(tensor_bytes(compact))  # a view of `compact`, which must stay alive
    return hasher.hexdigest()


def _scan_vocab(path: Path, encoding: str, errors: str, decoding_fix: str) -> CharVocab:
    """Pass 1: which code points the text holds."""
    seen = torch.zeros(CODE_POINTS, dtype=torch.bool)
    for values, _ in _code_point_chunks(path, encoding, errors, decoding_fix, hash_text=False):
        if values.numel():
            seen |= torch.bincount(values, minlength=CODE_POINTS) > 0
    if not bool(seen.any()):
        raise DataError(f"text file {path} has no text left after decoding; check the encoding")
    return CharVocab(chr(point) for point in torch.nonzero(seen).flatten().tolist())


def _byte_chunks(path: Path) -> Iterator[tuple[torch.Tensor, bytes]]:
    for chunk in _read_chunks(path):
        yield _uint8_view(chunk), b""  # identity: the file's own hash


def _code_point_chunks(
    path: Path, encoding: str, errors: str, decoding_fix: str, *, hash_text: bool = True
) -> Iterator[tuple[torch.Tensor, bytes]]:
    """(code points as int32, the same text as UTF-8 when `hash_text`) per chunk of the file."""
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    offset, chunk = 0, b""
    try:
        for chunk in _read_chunks(path):
            text = decoder.decode(chunk)
            yield _code_points(text), (text.encode("utf-8") if hash_text else b"")
            offset += len(chunk)
        chunk = b""
        text = decoder.decode(b"", final=True)
        yield _code_points(text), (text.encode("utf-8") if hash_text else b"")
    except UnicodeDecodeError as error:
        # The decoder may hold bytes of the previous chunk: find the bad one in what it saw.
        held = error.object
        start = offset + len(chunk) - len(held) + error.start
        raise decode_error(
            path, encoding, byte=held[error.start], offset=start, fix=decoding_fix
        ) from None


def _code_points(text: str) -> torch.Tensor:
    if text.isascii():  # the common case: the UTF-8 bytes are the code points
        return _uint8_view(text.encode("ascii")).int()
    return _view(text.encode("utf-32-le"), torch.int32)


def _read_chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                yield chunk
    except OSError as error:
        raise DataError(f"cannot read text file {path}: {error.strerror or error}") from None


# -- reading ------------------------------------------------------------------------------------


def _open(folder: Path, key: str) -> TokenFile | None:
    """The cached token file `key`, memory-mapped; None when absent or unusable."""
    ids_path, meta_path = folder / f"{key}.ids", folder / f"{key}.json"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        id_type, count = meta["id_type"], int(meta["count"])
        if meta.get("format") != FORMAT_VERSION or id_type not in ID_TYPES:
            return None
        if ids_path.stat().st_size != count * _item_size(id_type):
            return None  # a torn or foreign file: prepare it again
        vocab = CharVocab.from_dict(meta["vocab"])
    except (OSError, ValueError, KeyError, TypeError, DataError):
        return None
    if count == 0:
        ids = torch.empty(0, dtype=ID_TYPES[id_type])
    else:  # private mapping: pages load on first touch and the file is never written
        ids = torch.from_file(str(ids_path), shared=False, size=count, dtype=ID_TYPES[id_type])
    return TokenFile(ids=ids, vocab=vocab, sha256=str(meta["sha256"]), path=ids_path)


# -- the key ------------------------------------------------------------------------------------


def _key(content_sha256: str, settings: dict[str, Any]) -> str:
    described = json.dumps({"content": content_sha256, **settings}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def _stat_record(folder: Path, path: Path, settings: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Where the key of (this file, these settings) is remembered, and the file's stat
    that must still match: one record per file and settings, rewritten when the file changes."""
    resolved = path.resolve()
    stat = resolved.stat()
    identity = json.dumps({"path": str(resolved), **settings}, sort_keys=True)
    name = hashlib.sha256(identity.encode()).hexdigest()[:32]
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    return folder / "by-file" / f"{name}.json", record


def _remembered_key(folder: Path, path: Path, settings: dict[str, Any]) -> str | None:
    record_path, record = _stat_record(folder, path, settings)
    try:
        stored = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("record") != record:
        return None
    key = stored.get("key")
    return key if isinstance(key, str) else None


def _remember_key(folder: Path, path: Path, settings: dict[str, Any], key: str) -> None:
    record_path, record = _stat_record(folder, path, settings)
    try:
        record_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(record_path) as out:
            out.write(json.dumps({"record": record, "key": key}).encode())
    except OSError:
        pass  # only a shortcut: the next run hashes the file again


# -- small helpers ------------------------------------------------------------------------------


def _item_size(id_type: str) -> int:
    return torch.empty(0, dtype=ID_TYPES[id_type]).element_size()


def _view(data: bytes, dtype: torch.dtype) -> torch.Tensor:
    if not data:
        return torch.empty(0, dtype=dtype)
    with warnings.catch_warnings():  # read-only bytes: the tensor is only ever read
        warnings.simplefilter("ignore", UserWarning)
        return torch.frombuffer(data, dtype=dtype)


def _uint8_view(data: bytes) -> torch.Tensor:
    return _view(data, torch.uint8)
