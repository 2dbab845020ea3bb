"""Characters <-> integer ids, kept as plain data so checkpoints need no pickle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from charnn.errors import DataError


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

    def encode(self, text: str, *, what: str = "the text") -> torch.Tensor:
        """`text` as a 1-D int64 tensor of ids; `what` names the text in the error message."""
        unknown = self.unknown_chars(text)
        if unknown:
            shown = ", ".join(repr(char) for char in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise DataError(
                f"{what} has {len(unknown)} character(s) the model never saw in training: "
                f"{shown}{more}; remove or replace them"
            )
        return torch.tensor([self._ids[char] for char in text], dtype=torch.long)

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
