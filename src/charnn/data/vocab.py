"""Symbols <-> integer ids, kept as plain data so checkpoints need no pickle.

Two tokenizers (`data.tokenizer`):
- `chars` (CharVocab): the sorted set of Unicode code points of the training text, so Chinese,
  Japanese, emoji and mixed scripts are single symbols (thousands of them are fine).
- `bytes` (ByteVocab): the 256 byte values of the file, so any file at all trains, whatever
  its encoding. Text the user types (a prime, a scored file) is encoded as UTF-8. Output is
  decoded as UTF-8 as it is made: the bytes of a character are held back until it is
  complete, and a sequence that can never become a valid character is printed as U+FFFD.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from charnn.errors import DataError, key

logger = logging.getLogger(__name__)

UNKNOWN_CHARS_FIX = (
    f"remove them, or use {key('unknown_chars', 'drop')} (or {key('unknown_chars', 'replace')}, "
    f"with {key('replace_with')})"
)


class TextDecoder:
    """Turns one stream's ids back into text, one id at a time (see `Vocab.decoder`)."""

    def __init__(self, vocab: CharVocab) -> None:
        self._chars = vocab.chars

    def feed(self, index: int) -> str:
        return self._chars[index]

    def flush(self) -> str:
        return ""


class Utf8Decoder(TextDecoder):
    """Bytes -> UTF-8 text as they come: a character appears once its last byte arrives."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, index: int) -> str:
        return self._decoder.decode(bytes((index,)))

    def flush(self) -> str:
        """The end of the stream: an unfinished character becomes U+FFFD."""
        return self._decoder.decode(b"", final=True)


class CharVocab:
    """The sorted set of characters a model knows; id = position in that order."""

    tokenizer = "chars"

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
        if policy not in ("error", "drop", "replace"):  # the options checked it for the user
            raise ValueError(f"unknown policy {policy!r} for unseen characters")
        unknown = self.unknown_chars(text)
        if not unknown:
            return text
        if policy == "error":
            raise _unseen(unknown, what, UNKNOWN_CHARS_FIX)
        if policy == "replace" and (len(replacement) != 1 or replacement not in self):
            raise DataError(
                f"the replacement {replacement!r} is not one character the model knows; "
                f"choose one of its characters with {key('replace_with')}, e.g. {self.chars[-1]!r}"
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

    def decoder(self) -> TextDecoder:
        """A decoder for one generated stream."""
        return TextDecoder(self)

    @property
    def start_symbol(self) -> str:
        """What generation starts after when there is no prime: a line break when known."""
        return "\n" if "\n" in self else self.chars[0]

    def to_dict(self) -> dict[str, Any]:
        return {"chars": self.chars}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CharVocab:
        """A stored vocabulary, of either tokenizer."""
        if isinstance(data, Mapping) and data.get("tokenizer") == ByteVocab.tokenizer:
            return ByteVocab()
        chars = data.get("chars") if isinstance(data, Mapping) else None
        if not isinstance(chars, str):
            raise DataError("the stored vocabulary is malformed (expected a string of characters)")
        return cls(chars)


class ByteVocab(CharVocab):
    """The 256 byte values; id = byte. Typed text (primes, scored files) is taken as UTF-8."""

    tokenizer = "bytes"

    def __init__(self) -> None:
        # chars[i] = chr(i): the symbol table for messages; text itself goes through UTF-8.
        super().__init__(chr(index) for index in range(256))

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and len(char) == 1  # any character has a UTF-8 form

    def __repr__(self) -> str:
        return "ByteVocab(256 bytes)"

    def unknown_chars(self, text: str) -> list[str]:
        return []

    def encode(
        self, text: str, *, what: str = "the text", fix: str = "remove or replace them"
    ) -> torch.Tensor:
        return self.encode_bytes(text.encode("utf-8"))

    @staticmethod
    def encode_bytes(data: bytes) -> torch.Tensor:
        if not data:
            return torch.empty(0, dtype=torch.long)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return bytes(ids).decode("utf-8", errors="replace")

    def decoder(self) -> TextDecoder:
        return Utf8Decoder()

    @property
    def start_symbol(self) -> str:
        return "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer}


def new_vocab(tokenizer: str, text: str) -> CharVocab:
    """The vocabulary of `text` for a tokenizer (`chars` or `bytes`)."""
    return ByteVocab() if tokenizer == ByteVocab.tokenizer else CharVocab.from_text(text)


def _unseen(unknown: list[str], what: str, fix: str) -> DataError:
    return DataError(
        f"{what} has {len(unknown)} character(s) the model never saw in training: "
        f"{_show(unknown)}; {fix}"
    )


def _show(chars: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(char) for char in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")
