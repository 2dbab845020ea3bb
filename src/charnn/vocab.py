"""Characters <-> integer ids, kept as plain data so checkpoints need no pickle."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from charnn.errors import DataError

logger = logging.getLogger(__name__)

UNKNOWN_CHAR_POLICIES = ("error", "drop", "replace")
"""What to do with characters of a prime or scored text that the model never saw in training."""
UNKNOWN_CHARS_FIX = (
    "remove them, or pass --unknown-chars drop (or --unknown-chars replace, with --replace-with)"
)


class CharVocab:
    """The sorted set of characters a model knows; id = position in that order."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: str = "".join(chars)
        if not self.chars:
            raise DataError("the vocabulary is empty: the training text has no characters")
        if len(set(self.chars)) != len(self.chars):
            raise DataError("a vocabulary must not repeat characters")
        self._ids = {char: index for index, char in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and other.chars == self.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of `text` that are not in the vocabulary, in order of first appearance."""
        return [char for char in dict.fromkeys(text) if char not in self._ids]

    def encode(
        self, text: str, *, what: str = "the text", fix: str = "remove or replace them"
    ) -> torch.Tensor:
        """`text` as a 1-D int64 tensor of ids; `what` names the text in the error message and
        `fix` says what to do about characters the model never saw."""
        unknown = self.unknown_chars(text)
        if unknown:
            raise _unseen(unknown, what, fix)
        return torch.tensor([self._ids[char] for char in text], dtype=torch.long)

    def fit(self, text: str, *, policy: str, replacement: str = " ", what: str) -> str:
        """`text` with the characters the model never saw handled by `policy`: `error` refuses
        them (naming them), `drop` removes them, `replace` puts `replacement` in their place."""
        if policy not in UNKNOWN_CHAR_POLICIES:
            raise DataError(
                f"unknown policy {policy!r} for unseen characters; "
                f"use one of {', '.join(UNKNOWN_CHAR_POLICIES)}"
            )
        unknown = self.unknown_chars(text)
        if not unknown:
            return text
        if policy == "error":
            raise _unseen(unknown, what, UNKNOWN_CHARS_FIX)
        if policy == "replace" and (len(replacement) != 1 or replacement not in self):
            raise DataError(
                f"the replacement {replacement!r} is not one character the model knows; "
                f"choose one of its characters with --replace-with, e.g. {self.chars[-1]!r}"
            )
        substitute = replacement if policy == "replace" else ""
        missing = set(unknown)
        fitted = "".join(substitute if char in missing else char for char in text)
        done = "replaced" if policy == "replace" else "dropped"
        logger.warning(
            "%s %d unseen character(s) in %s: %s", done, len(unknown), what, _show(unknown)
        )
        return fitted

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[index] for index in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"chars": self.chars}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CharVocab:
        chars = data.get("chars") if isinstance(data, Mapping) else None
        if not isinstance(chars, str):
            raise DataError("the stored vocabulary is malformed (expected a string of characters)")
        return cls(chars)


def _unseen(unknown: list[str], what: str, fix: str) -> DataError:
    return DataError(
        f"{what} has {len(unknown)} character(s) the model never saw in training: "
        f"{_show(unknown)}; {fix}"
    )


def _show(chars: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(char) for char in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")
