"""charnn from Python: load a trained run, generate text, score text, classify texts.

    from charnn import load_model
    m = load_model("runs/x")                       # a run directory (its best.pt) or a .pt file
    m.generate("ROMEO:", length=200, temperature=0.8, seed=1)
    m.score("To be, or not to be").bits_per_char

    names = load_model("runs/names")               # a run with task: classify
    names.classify(["Satoshi", "Dvorak"], top_k=3)  # per text: [(label, probability), ...]
    names.score_file("held-out.tsv").accuracy

    digits = load_model("runs/mnist-rows")         # a classifier of sequences of numbers
    digits.classify(x_test[:5])                    # raw values, (N, T, F) or (N, T)
    digits.score_file("held-out.npz").accuracy

The CLI's `sample` and `eval` commands are built on this same API. Errors are `CharnnError`s
(see `charnn.errors`) with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charnn.artifacts.checkpoint import Checkpoint, checkpoint_path, load_checkpoint
from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, key
from charnn.inference.classifier import predict, score_checkpoint
from charnn.inference.evaluator import EvalResult, evaluate, evaluate_checkpoint
from charnn.inference.inspection import inspect_classifier, inspect_language_model
from charnn.inference.options import EvalOptions, SamplingOptions
from charnn.inference.sampler import generate
from charnn.inference.scoring import ClassifyResult, check_top_k
from charnn.inference.sequences import as_sequences, predict_sequences
from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.platform.device import resolve_device

SAMPLING, SCORING = SamplingOptions(), EvalOptions()
"""The defaults of the options, read by the signatures below."""


@dataclass
class Model:
    """A trained model with its vocabulary: a language model, ready to generate and score
    text, or a classifier (`task: classify`), ready to classify texts and be scored."""

    checkpoint: Checkpoint
    """Everything the run stored: config, vocabulary, labels, step, losses, corpus identity."""
    module: CharRNN | CharClassifier
    path: Path
    """The checkpoint file it came from."""

    @property
    def classifies(self) -> bool:
        return isinstance(self.module, CharClassifier)

    @property
    def labels(self) -> list[str]:
        """A classifier's labels (class i is labels[i]); empty for a language model."""
        return self.checkpoint.labels

    def _language_model(self) -> CharRNN:
        if not isinstance(self.module, CharRNN):
            raise CharnnError(
                f"{self.path} is a classifier (task: classify): it does not generate or score "
                "text; use classify(texts) or score_file(labelled_file)"
            )
        return self.module

    def _classifier(self) -> CharClassifier:
        if not isinstance(self.module, CharClassifier):
            raise CharnnError(
                f"{self.path} is a language model (task: lm): it has no labels to predict; "
                "use generate() or score(), or train a classifier with task: classify"
            )
        return self.module

    def classify(
        self,
        texts: Sequence[str] | Any,
        *,
        top_k: int = 1,
        unknown_chars: str = SCORING.unknown_chars,
        replace_with: str = SCORING.replace_with,
    ) -> list[list[tuple[str, float]]]:
        """Per text (or sequence), its `top_k` likeliest labels as (label, probability),
        likeliest first.

        All texts are encoded at once and run in batches of similar length. Characters the
        model never saw are refused, dropped or replaced as `unknown_chars` says. A classifier
        of sequences of numbers takes a NumPy array (N, T, F) or (N, T), or a list of (T, F)
        arrays of different lengths, as raw values: the model standardises them itself.
        """
        if self.checkpoint.reads_values:
            sequences = as_sequences(texts)
            return predict_sequences(self._classifier(), self.labels, sequences, top_k=top_k)
        if isinstance(texts, str):  # one text, not its characters
            texts = [texts]
        if isinstance(texts, np.ndarray):
            raise CharnnError(f"{self.path} classifies texts; give a list of strings, not an array")
        return predict(
            self._classifier(),
            self.vocab,
            self.labels,
            list(texts),
            top_k=top_k,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
            baseline=self.checkpoint.ngram_baseline(),
            mix_weight=self.checkpoint.mix_weight,
        )

    def inspect(
        self,
        text: str | Sequence[str],
        *,
        units: Sequence[int] | None = None,
        pattern: str | None = None,
        lines: bool = False,
        top_k: int = 3,
        unknown_chars: str = SCORING.unknown_chars,
        replace_with: str = SCORING.replace_with,
    ) -> dict[str, Any]:
        """What the model makes of `text`, character by character, as plain data (what
        `charnn inspect` draws): for a language model, each character's surprisal and the
        likeliest characters there, hidden-unit lanes (`units`, or those that best separate
        `pattern`'s matches, or the most variable), and with `lines` the lines ranked by bits
        per character; for a classifier, per text (a list, or the lines of `text`), how its
        `top_k` labels' probabilities change as it reads."""
        if self.checkpoint.reads_values:
            raise CharnnError(
                f"{self.path} classifies sequences of numbers; inspect reads texts, so it has "
                "nothing to show for this run"
            )
        if isinstance(self.module, CharClassifier):
            texts = text.splitlines() if isinstance(text, str) else list(text)
            texts = [line for line in texts if line.strip()]
            if not texts:
                raise CharnnError("nothing to inspect; give at least one text")
            check_top_k(top_k)
            return inspect_classifier(
                self.module,
                self.vocab,
                self.labels,
                texts,
                top_k=top_k,
                baseline=self.checkpoint.ngram_baseline(),
                mix_weight=self.checkpoint.mix_weight,
            )
        if not isinstance(text, str):
            text = "\n".join(text)
        module = self._language_model()
        text = self.vocab.fit(text, policy=unknown_chars, replacement=replace_with, what="the text")
        return inspect_language_model(
            module, self.vocab, text, units=units, pattern=pattern, lines=lines
        )

    @property
    def vocab(self) -> CharVocab:
        """The characters the model reads (a classifier of sequences of numbers has none)."""
        return self.checkpoint.chars

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
        module = self._language_model()
        prime = self.vocab.fit(
            prime, policy=unknown_chars, replacement=replace_with, what="the prime text"
        )
        return prime, generate(module, self.vocab, options, prime=prime)

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
        module = self._language_model()
        text = self.vocab.fit(text, policy=unknown_chars, replacement=replace_with, what="the text")
        return evaluate(module, self.vocab.encode(text, what="the text"), window=options.window)

    def score_split(
        self,
        split: str = SCORING.split,
        *,
        window: int | None = SCORING.window,
        progress: bool = False,
    ) -> EvalResult | ClassifyResult:
        """Score a part of the run's own data (`val` or `test`, held out; or `train`): an
        EvalResult for a language model, a ClassifyResult (accuracy, macro-F1, ...) for a
        classifier. `progress`: a bar on a terminal when it takes a while."""
        options = EvalOptions(split=split, window=window)
        if isinstance(self.module, CharClassifier):
            self._no_window(window)
            return score_checkpoint(self.checkpoint, self.module, options, progress=progress)
        return evaluate_checkpoint(self.checkpoint, options, model=self.module, progress=progress)

    def _no_window(self, window: int | None) -> None:
        if window is not None:
            raise CharnnError(
                f"{self.path} is a classifier: it reads each example whole, so it has no "
                f"window; leave {key('window')} unset"
            )

    def score_file(
        self,
        path: str | Path,
        *,
        encoding: str = SCORING.encoding,
        errors: str = SCORING.errors,
        unknown_chars: str = SCORING.unknown_chars,
        replace_with: str = SCORING.replace_with,
        window: int | None = SCORING.window,
        progress: bool = False,
    ) -> EvalResult | ClassifyResult:
        """Score a text file (read as `encoding`; bad bytes handled as `errors` says). For a
        classifier, a labelled file in any format of data.path (an .npz file for one that reads
        sequences of numbers): its ClassifyResult."""
        options = EvalOptions(
            encoding=encoding,
            errors=errors,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
            window=window,
        )
        if isinstance(self.module, CharClassifier):
            self._no_window(window)
            return score_checkpoint(
                self.checkpoint, self.module, options, file=Path(path), progress=progress
            )
        return evaluate_checkpoint(
            self.checkpoint, options, text_file=Path(path), model=self.module, progress=progress
        )


def load_model(path: str | Path, *, device: str = "auto") -> Model:
    """A trained model from a run directory (its best.pt, else last.pt) or a checkpoint file."""
    file = checkpoint_path(Path(path))
    checkpoint = load_checkpoint(file, map_location="cpu")
    module = checkpoint.build_network(resolve_device(device))
    return Model(checkpoint=checkpoint, module=module, path=file)
