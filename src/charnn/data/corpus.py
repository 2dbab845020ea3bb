"""The one way into a run's data: `prepare_corpus` turns `data.*` config into ids and a
vocabulary, and `split_ids` cuts them for training and evaluation.

Files (data.path, downloaded corpora) go through the token cache; the built-in text is encoded
in memory. The corpus is split contiguously, validation last (as nanoGPT does), so that the
validation text is the same however large the test part is:

    | train .................................. | test (optional) | val (last 10%) |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from charnn.config import DataConfig
from charnn.data.sources import (
    REMOTE_CORPORA,
    TRAIN_DECODING_FIX,
    fetch_remote_corpus,
    load_corpus,
)
from charnn.data.token_cache import prepare
from charnn.data.vocab import CharVocab, new_vocab
from charnn.errors import DataError


@dataclass(frozen=True)
class PreparedCorpus:
    """A corpus as ids, ready to split: memory-mapped from the token cache for files."""

    name: str
    vocab: CharVocab
    ids: torch.Tensor
    """1-D ids in a compact type (uint8, uint16 or int32); `.long()` windows before use."""
    sha256: str
    """The corpus identity a checkpoint keeps (see `TokenFile.sha256`)."""


def prepare_corpus(data: DataConfig) -> PreparedCorpus:
    """The ids of the whole corpus a run trains and validates on, with their vocabulary.

    Files (data.path, downloaded corpora) go through the token cache, so memory stays bounded
    whatever their size and a second run starts at once; the built-in text is encoded here.
    """
    if data.path is not None or data.source in REMOTE_CORPORA:
        path, name = (
            (Path(data.path), data.path)
            if data.path is not None
            else (fetch_remote_corpus(data.source), data.source)
        )
        encoding, errors = (data.encoding, data.errors) if data.path else ("utf-8", "strict")
        prepared = prepare(
            path,
            tokenizer=data.tokenizer,
            encoding=encoding,
            errors=errors,
            decoding_fix=TRAIN_DECODING_FIX,
        )
        return PreparedCorpus(
            name=name, vocab=prepared.vocab, ids=prepared.ids, sha256=prepared.sha256
        )
    corpus = load_corpus(data)
    vocab = new_vocab(data.tokenizer, corpus.text)
    return PreparedCorpus(
        name=corpus.name, vocab=vocab, ids=vocab.encode(corpus.text), sha256=corpus.sha256
    )


@dataclass(frozen=True)
class Splits:
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    """Empty when data.test_fraction is 0."""


def split_ids(ids: torch.Tensor, *, val_fraction: float, test_fraction: float) -> Splits:
    """Cut a 1-D id tensor into train | test | val by fraction of its length (views: a
    memory-mapped corpus stays mapped)."""
    total = len(ids)
    val_len = int(total * val_fraction)
    test_len = int(total * test_fraction)
    train_len = total - val_len - test_len
    # Scoring needs at least one (input, target) pair, so two characters.
    if val_len < 2:
        raise DataError(
            f"the corpus has {total} characters, too few for a validation split of "
            f"{val_fraction:g}; use a longer text or raise data.val_fraction"
        )
    if test_fraction > 0 and test_len < 2:
        raise DataError(
            f"the corpus has {total} characters, too few for a test split of {test_fraction:g}; "
            "use a longer text, raise data.test_fraction or set it to 0"
        )
    return Splits(
        train=ids[:train_len],
        test=ids[train_len : train_len + test_len],
        val=ids[train_len + test_len :],
    )


def encode_corpus(
    text: str, *, val_fraction: float, test_fraction: float
) -> tuple[CharVocab, Splits]:
    """The vocabulary of the whole corpus, and its ids split for training and evaluation.

    The vocabulary covers every split so that validation and test text always encode; a
    character seen only there simply gets a low probability.
    """
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    return vocab, split_ids(ids, val_fraction=val_fraction, test_fraction=test_fraction)
