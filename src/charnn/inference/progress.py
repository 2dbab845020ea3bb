"""A progress bar for scoring that takes a while: on stderr, only when it is a terminal and
only once the work has run for PROGRESS_DELAY_S (short work shows nothing at all)."""

from __future__ import annotations

import sys

from tqdm import tqdm

PROGRESS_DELAY_S = 2.0


def scoring_bar(total: int, *, unit: str, shown: bool) -> tqdm:
    """A bar of `total` `unit`s; `shown=False` (or no terminal) gives one that draws nothing."""
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        delay=PROGRESS_DELAY_S,
        disable=not (shown and sys.stderr.isatty()),
        file=sys.stderr,
        leave=False,
    )
