"""Score a model on a text: mean next-character loss with the hidden state carried throughout.

The text is read as one stream, the way the model would read it, so every character after the
first is predicted with the whole text before it in the hidden state. It is fed in chunks of
`chunk_len` characters: the recurrent kernels loop over time inside one call, so there is no
Python work per character.

`window=N` scores the text the way a model with a context of N characters (a transformer with
block size N) is scored: in independent windows of N characters, each read from a fresh state,
so the first character of a window is predicted from nothing but its predecessor. Windows are
scored many at once, as one batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import Checkpoint
from charnn.artifacts.metrics import bits_per_char, perplexity
from charnn.data.corpus import prepare_corpus, split_ids
from charnn.data.sources import read_file_bytes, read_text_file
from charnn.data.vocab import ByteVocab
from charnn.errors import CharnnError, DataError, key
from charnn.inference.options import EvalOptions
from charnn.inference.progress import scoring_bar
from charnn.model.network import CharRNN


@dataclass(frozen=True)
class EvalResult:
    loss: float
    """Mean cross-entropy, nats per character."""
    chars: int
    """Characters scored: every character of the text but the first."""
    seconds: float

    @property
    def bits_per_char(self) -> float:
        return bits_per_char(self.loss)

    @property
    def bpc(self) -> float:
        return self.bits_per_char

    @property
    def perplexity(self) -> float:
        return perplexity(self.loss)

    @property
    def chars_per_s(self) -> float:
        return self.chars / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "bpc": self.bpc,
            "perplexity": self.perplexity,
            "chars": self.chars,
            "seconds": self.seconds,
            "chars_per_s": self.chars_per_s,
        }


WINDOW_BATCH_CHARS = 1 << 16
"""Characters per batch of windows: bounds the memory of windowed scoring."""


def evaluate(
    model: CharRNN,
    ids: torch.Tensor,
    *,
    chunk_len: int = 2048,
    window: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Mean loss of `model` predicting ids[1:] from ids[:-1]: one stream with the state carried,
    or, with `window`, independent windows of that many characters from a fresh state. With
    `progress`, a bar on stderr when it is a terminal and the scoring takes a while."""
    if len(ids) < 2:
        raise DataError("a text needs at least 2 characters to be scored")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    total = torch.zeros((), dtype=torch.float64, device=device)
    scored = len(ids) - 1
    bar = scoring_bar(scored, unit="char", shown=progress)
    try:
        with torch.inference_mode(), bar:
            hidden = None
            for inputs, targets in _batches(ids, chunk_len=chunk_len, window=window):
                # Ids may be stored compact (uint8/uint16/int32); the model takes int64.
                inputs = inputs.to(device, non_blocking=True).long()
                logits, last_hidden = model(inputs, hidden)
                if window is None:  # one stream: the next chunk goes on from this state
                    hidden = last_hidden
                total += F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),  # (B * T, V)
                    targets.to(device, non_blocking=True).long().reshape(-1),
                    reduction="sum",
                )
                bar.update(targets.numel())
            loss = total.item() / scored  # the only host sync
    finally:
        model.train(was_training)
    return EvalResult(loss=loss, chars=scored, seconds=time.perf_counter() - started)


def _batches(
    ids: torch.Tensor, *, chunk_len: int, window: int | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) pairs, each (B, T), that together predict every id after the first."""
    scored = len(ids) - 1
    if window is None:  # one row, read chunk after chunk
        for start in range(0, scored, chunk_len):
            stop = min(start + chunk_len, scored)
            yield ids[start:stop].unsqueeze(0), ids[start + 1 : stop + 1].unsqueeze(0)
        return
    # Window k reads ids[kN : kN + N] and predicts ids[kN + 1 : kN + N + 1]; the last may be short.
    full_windows, remainder = divmod(scored, window)
    per_batch = max(1, WINDOW_BATCH_CHARS // window)
    for first in range(0, full_windows, per_batch):
        span = slice(first * window, min(first + per_batch, full_windows) * window)
        inputs = ids[span].view(-1, window)  # (W, N)
        yield inputs, ids[span.start + 1 : span.stop + 1].view(-1, window)
    if remainder:
        start = full_windows * window
        yield ids[start:scored].unsqueeze(0), ids[start + 1 :].unsqueeze(0)


EVAL_DECODING_FIX = (
    f"if it is text in another encoding, use {key('encoding')} "
    f"(e.g. {key('encoding', 'latin-1')}); "
    f"to replace the bad bytes with U+FFFD instead, use {key('errors', 'replace')}"
)


def evaluate_checkpoint(
    checkpoint: Checkpoint,
    options: EvalOptions | None = None,
    *,
    text_file: Path | None = None,
    model: CharRNN | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> EvalResult:
    """Score a checkpoint on its run's own split (`options.split`), or on any text file; state
    carried through the whole text, or in independent windows of `options.window` characters.
    `model` is the checkpoint's model when already built (else it is built on `device`);
    `progress` shows a bar on a terminal when the scoring takes a while."""
    options = options or EvalOptions()
    if model is None:
        model = checkpoint.build_model(device or "cpu")
    if text_file is not None:
        ids = _text_file_ids(checkpoint, text_file, options)
    else:
        ids = _split_ids(checkpoint, options.split)
    return evaluate(model, ids, window=options.window, progress=progress)


def _text_file_ids(checkpoint: Checkpoint, path: Path, options: EvalOptions) -> torch.Tensor:
    what = f"text file {path}"
    if isinstance(checkpoint.chars, ByteVocab):  # a bytes model reads any file as it is
        return ByteVocab.encode_bytes(read_file_bytes(path, what=what))
    text = read_text_file(
        path, encoding=options.encoding, errors=options.errors, decoding_fix=EVAL_DECODING_FIX
    )
    text = checkpoint.chars.fit(
        text, policy=options.unknown_chars, replacement=options.replace_with, what=what
    )
    return checkpoint.chars.encode(text, what=what)


def _split_ids(checkpoint: Checkpoint, split: str) -> torch.Tensor:
    data = checkpoint.config.data
    if split == "test" and data.test_fraction == 0:
        raise CharnnError(
            "this run has no test split (data.test_fraction is 0); score the val split, "
            f"give {key('file', 'PATH')}, or train with {key('data.test_fraction', 0.05)}"
        )
    try:
        corpus = prepare_corpus(data)
    except DataError as error:
        raise DataError(f"{error.marked} (or score any text with {key('file', 'PATH')})") from None
    splits = split_ids(corpus.ids, val_fraction=data.val_fraction, test_fraction=data.test_fraction)
    checkpoint.check_corpus(
        corpus.name,
        corpus.sha256,
        corpus.vocab,
        fix=f"its {split} split is not the one the run held out; "
        f"score a file with {key('file', 'PATH')} instead",
    )
    return {"val": splits.val, "test": splits.test, "train": splits.train}[split]
