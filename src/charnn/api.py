"""charnn from Python: load a trained run, generate text, score text.

    from charnn import load_model
    m = load_model("runs/x")                       # a run directory (its best.pt) or a .pt file
    m.generate("ROMEO:", length=200, temperature=0.8, seed=1)
    m.score("To be, or not to be").bits_per_char

The CLI's `sample` and `eval` commands are built on this same API. Errors are `CharnnError`s
(see `charnn.errors`) with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from charnn.artifacts.checkpoint import Checkpoint, checkpoint_path, load_checkpoint
from charnn.data.vocab import CharVocab
from charnn.inference.evaluator import EvalResult, evaluate, evaluate_checkpoint
from charnn.inference.options import EvalOptions, SamplingOptions
from charnn.inference.sampler import generate
from charnn.model.network import CharRNN
from charnn.platform.device import resolve_device

SAMPLING, SCORING = SamplingOptions(), EvalOptions()
"""The defaults of the options, read by the signatures below."""


@dataclass
class Model:
    """A trained model with its vocabulary, ready to generate and score."""

    checkpoint: Checkpoint
    """Everything the run stored: config, vocabulary, step, losses, corpus identity."""
    module: CharRNN
    path: Path
    """The checkpoint file it came from."""

    @property
    def vocab(self) -> CharVocab:
        return self.checkpoint.vocab

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def stream(
        self,
        prime: str = "",
        *,
        length: int = SAMPLING.length,
        temperature: float = SAMPLING.temperature,
        top_k: int = SAMPLING.top_k,
        top_p: float = SAMPLING.top_p,
        seed: int | None = SAMPLING.seed,
        num_samples: int = SAMPLING.num_samples,
        unknown_chars: str = SAMPLING.unknown_chars,
        replace_with: str = SAMPLING.replace_with,
    ) -> tuple[str, Iterator[list[str]]]:
        """(the prime as read, the text as it is made: one list per step, one str per sample).

        Characters of `prime` the model never saw are refused, dropped or replaced as
        `unknown_chars` says (`error`, `drop`, `replace` with `replace_with`). The options and
        their defaults are `charnn.inference.options.SamplingOptions`.
        """
        options = SamplingOptions(
            length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            num_samples=num_samples,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
        )
        prime = self.vocab.fit(
            prime, policy=unknown_chars, replacement=replace_with, what="the prime text"
        )
        return prime, generate(self.module, self.vocab, options, prime=prime)

    def generate(
        self,
        prime: str = "",
        *,
        length: int = SAMPLING.length,
        temperature: float = SAMPLING.temperature,
        top_k: int = SAMPLING.top_k,
        top_p: float = SAMPLING.top_p,
        seed: int | None = SAMPLING.seed,
        unknown_chars: str = SAMPLING.unknown_chars,
        replace_with: str = SAMPLING.replace_with,
    ) -> str:
        """`length` new characters after `prime`, returned with the prime in front.

        The same seed gives the same text (None: a fresh one). temperature 0 always takes the
        most likely character; top_k and top_p restrict the draw to the likeliest characters.
        """
        prime, steps = self.stream(
            prime,
            length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
        )
        return prime + "".join(chars[0] for chars in steps)

    def score(
        self,
        text: str,
        *,
        window: int | None = SCORING.window,
        unknown_chars: str = SCORING.unknown_chars,
        replace_with: str = SCORING.replace_with,
    ) -> EvalResult:
        """How well the model predicts `text`: `.loss` (nats/char), `.bits_per_char`,
        `.perplexity`; the state is carried through the text, or reset every `window` chars."""
        options = EvalOptions(window=window, unknown_chars=unknown_chars, replace_with=replace_with)
        text = self.vocab.fit(text, policy=unknown_chars, replacement=replace_with, what="the text")
        return evaluate(
            self.module, self.vocab.encode(text, what="the text"), window=options.window
        )

    def score_split(
        self, split: str = SCORING.split, *, window: int | None = SCORING.window
    ) -> EvalResult:
        """Score the part of the run's own corpus it held out (`val` or `test`)."""
        options = EvalOptions(split=split, window=window)
        return evaluate_checkpoint(self.checkpoint, options, model=self.module)

    def score_file(
        self,
        path: str | Path,
        *,
        encoding: str = SCORING.encoding,
        errors: str = SCORING.errors,
        unknown_chars: str = SCORING.unknown_chars,
        replace_with: str = SCORING.replace_with,
        window: int | None = SCORING.window,
    ) -> EvalResult:
        """Score a text file (read as `encoding`; bad bytes handled as `errors` says)."""
        options = EvalOptions(
            encoding=encoding,
            errors=errors,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
            window=window,
        )
        return evaluate_checkpoint(
            self.checkpoint, options, text_file=Path(path), model=self.module
        )


def load_model(path: str | Path, *, device: str = "auto") -> Model:
    """A trained model from a run directory (its best.pt, else last.pt) or a checkpoint file."""
    file = checkpoint_path(Path(path))
    checkpoint = load_checkpoint(file, map_location="cpu")
    module = checkpoint.build_model(resolve_device(device))
    return Model(checkpoint=checkpoint, module=module, path=file)
