"""sha256 digests: of a file's bytes, and of nested plain data (dicts, lists, tuples, tensors,
numbers, strings, None).

Checkpoints store this digest of their own content, so a file whose bytes changed after it was
written (a bad disk, a bad copy, a hand edit) is refused even when it still unpickles. The
digest is computed from values, not from the file's bytes, so it does not depend on how a torch
version lays out its zip archive: a file written by one torch verifies under another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def content_sha256(value: Any) -> str:
    digest = hashlib.sha256()
    _update(digest, value)
    return digest.hexdigest()


def _update(digest: Any, value: Any) -> None:
    # Every item is tagged with its type (and containers with their length), so that different
    # structures can never produce the same stream of bytes.
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)};".encode())
        if tensor.numel():
            digest.update(tensor_bytes(tensor))
    elif isinstance(value, dict):
        digest.update(f"D{len(value)};".encode())
        for key, item in value.items():
            _update(digest, key)
            _update(digest, item)
    elif isinstance(value, list | tuple):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)};".encode())
        for item in value:
            _update(digest, item)
    elif value is None or isinstance(value, bool | int | float | str):
        # repr is exact for floats (shortest round-trip form) and tags the type by its spelling.
        text = repr(value)
        digest.update(f"{type(value).__name__}{len(text)};{text}".encode())
    else:
        raise TypeError(f"cannot digest a {type(value).__name__}; checkpoints hold plain data")


def tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """The raw bytes of a contiguous CPU tensor, without a copy.

    Viewed as uint8 first: NumPy has no bfloat16, but every dtype's bytes are uint8s.
    """
    return tensor.reshape(-1).view(torch.uint8).numpy().data
