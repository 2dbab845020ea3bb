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
from charnn.inference.evaluator import EvalResult, TextFileOptions, evaluate, evaluate_checkpoint
from charnn.inference.sampler import SamplingOptions, generate
from charnn.model.network import CharRNN
from charnn.platform.device import resolve_device


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
        length: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        num_samples: int = 1,
        unknown_chars: str = "error",
        replace_with: str = " ",
    ) -> tuple[str, Iterator[list[str]]]:
        """(the prime as read, the text as it is made: one list per step, one str per sample).

        Characters of `prime` the model never saw are refused, dropped or replaced as
        `unknown_chars` says (`error`, `drop`, `replace` with `replace_with`).
        """
        options = SamplingOptions(temperature=temperature, top_k=top_k, top_p=top_p)
        prime = self.vocab.fit(
            prime, policy=unknown_chars, replacement=replace_with, what="the prime text"
        )
        steps = generate(
            self.module,
            self.vocab,
            prime=prime,
            length=length,
            num_samples=num_samples,
            options=options,
            seed=seed,
        )
        return prime, steps

    def generate(
        self,
        prime: str = "",
        *,
        length: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        unknown_chars: str = "error",
        replace_with: str = " ",
    ) -> str:
        """`length` new characters after `prime`, returned with the prime in front.

        The same seed gives the same text. temperature 0 always takes the most likely
        character; top_k and top_p restrict the draw to the likeliest characters.
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
        window: int | None = None,
        unknown_chars: str = "error",
        replace_with: str = " ",
    ) -> EvalResult:
        """How well the model predicts `text`: `.loss` (nats/char), `.bits_per_char`,
        `.perplexity`; the state is carried through the text, or reset every `window` chars."""
        text = self.vocab.fit(text, policy=unknown_chars, replacement=replace_with, what="the text")
        return evaluate(self.module, self.vocab.encode(text, what="the text"), window=window)

    def score_split(self, split: str = "val", *, window: int | None = None) -> EvalResult:
        """Score the part of the run's own corpus it held out (`val` or `test`)."""
        return evaluate_checkpoint(self.checkpoint, model=self.module, split=split, window=window)

    def score_file(
        self,
        path: str | Path,
        *,
        encoding: str = "utf-8",
        errors: str = "strict",
        unknown_chars: str = "error",
        replace_with: str = " ",
        window: int | None = None,
    ) -> EvalResult:
        """Score a text file (read as `encoding`; bad bytes handled as `errors` says)."""
        options = TextFileOptions(
            encoding=encoding, errors=errors, unknown_chars=unknown_chars, replacement=replace_with
        )
        return evaluate_checkpoint(
            self.checkpoint,
            model=self.module,
            text_file=Path(path),
            text_options=options,
            window=window,
        )


def load_model(path: str | Path, *, device: str = "auto") -> Model:
    """A trained model from a run directory (its best.pt, else last.pt) or a checkpoint file."""
    file = checkpoint_path(Path(path))
    checkpoint = load_checkpoint(file, map_location="cpu")
    module = checkpoint.build_model(resolve_device(device))
    return Model(checkpoint=checkpoint, module=module, path=file)
