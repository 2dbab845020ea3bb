"""The one per-user cache charnn keeps: downloaded corpora and the token cache live under it,
whatever the working directory.

    $CHARNN_CACHE_DIR, else $XDG_CACHE_HOME/charnn, else ~/.cache/charnn
      data/     downloaded corpora ($CHARNN_DATA_DIR moves them elsewhere)
      tokens/   encoded corpora (the token cache)
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ROOT_ENV = "CHARNN_CACHE_DIR"


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "charnn"
