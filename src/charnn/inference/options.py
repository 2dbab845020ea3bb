"""The options of sampling and of scoring: each declared once, here, with its default and its
check. The Python API's keyword arguments and the CLI's flags take their defaults from these
classes (tests/inference/test_options.py holds them to it).

This module imports no torch, so the CLI can read the defaults while `charnn --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from charnn.config import DECODE_ERRORS, is_known_encoding, unknown_encoding
from charnn.errors import CharnnError, DataError, key

UNKNOWN_CHAR_POLICIES = ("error", "drop", "replace")
"""What to do with characters of a prime or scored text that the model never saw in training
(`CharVocab.fit` carries them out)."""
EVAL_SPLITS = ("val", "test", "train")


@dataclass(frozen=True, kw_only=True)
class UnseenCharOptions:
    """What to do with characters the model never saw in training, in a text it reads."""

    unknown_chars: str = "error"
    """`error` (name them and stop), `drop` them, or `replace` them with `replace_with`."""
    replace_with: str = " "
    """The character `replace` puts in their place; it must be in the model's vocabulary."""

    def __post_init__(self) -> None:
        if self.unknown_chars not in UNKNOWN_CHAR_POLICIES:
            raise DataError(
                f"{key('unknown_chars')} {self.unknown_chars!r} is not a policy; "
                f"use one of {', '.join(UNKNOWN_CHAR_POLICIES)}"
            )


@dataclass(frozen=True, kw_only=True)
class SamplingOptions(UnseenCharOptions):
    """How `generate` draws text."""

    length: int = 500
    """Characters to generate after the prime."""
    temperature: float = 0.8
    """Divides the logits: below 1 is more conservative, above 1 more adventurous; 0 is greedy."""
    top_k: int = 0
    """Draw only from the k most likely characters; 0 turns it off."""
    top_p: float = 1.0
    """Draw only from the smallest set of characters whose probability reaches p (nucleus);
    1 turns it off."""
    num_samples: int = 1
    """How many samples to draw, in one batch."""
    seed: int | None = None
    """The same seed gives the same text; None draws a fresh one."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length < 0:
            raise CharnnError(f"{key('length')} must be >= 0; got {self.length}")
        if not self.temperature >= 0:  # also rejects NaN
            raise CharnnError(
                f"{key('temperature')} must be >= 0 (0 = greedy, 1 = the model's own "
                f"distribution); got {self.temperature}"
            )
        if self.top_k < 0:
            raise CharnnError(f"{key('top_k')} must be >= 0 (0 = off); got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise CharnnError(f"{key('top_p')} must be in (0, 1] (1 = off); got {self.top_p}")
        if self.num_samples < 1:
            raise CharnnError(f"{key('num_samples')} must be >= 1; got {self.num_samples}")


@dataclass(frozen=True, kw_only=True)
class EvalOptions(UnseenCharOptions):
    """How a text is scored, and how a text file is read for it."""

    split: str = "val"
    """Which part of the run's own data to score: `val` or `test` (held out), or `train`."""
    window: int | None = None
    """Score in independent windows of this many characters, each from a fresh state (how a
    model with that context is scored); None carries the state through the whole text."""
    encoding: str = "utf-8"
    """The encoding of a text file to score."""
    errors: str = "strict"
    """Bytes of a text file not valid in its encoding: `strict` (stop), `replace` (with
    U+FFFD) or `ignore` (drop them)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.split not in EVAL_SPLITS:
            raise CharnnError(
                f"unknown {key('split')} {self.split!r}; use one of {', '.join(EVAL_SPLITS)}"
            )
        if self.window is not None and self.window < 1:
            raise CharnnError(f"{key('window')} must be >= 1 character; got {self.window}")
        if not is_known_encoding(self.encoding):
            raise DataError(unknown_encoding(self.encoding, key("encoding")))
        if self.errors not in DECODE_ERRORS:
            raise DataError(
                f"{key('errors')} must be one of {', '.join(DECODE_ERRORS)}; got {self.errors!r}"
            )
