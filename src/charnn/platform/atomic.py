"""Write a file all at once or not at all."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Yield a file that replaces `path` only when the block finishes without an exception.

    Bytes go to a temporary file in the same folder (so the rename cannot cross filesystems),
    which is flushed and fsynced, then renamed over `path`; then the folder is fsynced so the
    rename itself survives a crash. If the block raises, `path` is untouched and the temporary
    file is removed. The file gets the usual permissions (0666 less the umask).
    """
    temporary = _temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    # Not every platform can open a folder (Windows); there the rename is as durable as it gets.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files that writers killed mid-write (SIGKILL, power loss) left in
    `folder`; call it only when no writer can be active there. Returns what it removed."""
    stale = [path for path in folder.glob(".*.tmp") if _TEMPORARY.fullmatch(path.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
