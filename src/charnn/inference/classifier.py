"""Classifying with a trained CharClassifier, and scoring it on labelled examples: accuracy,
macro-F1, per-class scores and confusion. Texts here; sequences of numbers in
charnn.inference.sequences, which scores them the same way (`score_encoded`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from charnn.artifacts.checkpoint import Checkpoint
from charnn.data.labelled import Example, prepare_examples, read_examples, truncated
from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, DataError, key
from charnn.inference.batches import classify_logits, encode_texts
from charnn.inference.evaluator import EVAL_DECODING_FIX
from charnn.inference.options import EvalOptions
from charnn.inference.scoring import (
    NO_TEST_SPLIT,
    ClassifyResult,
    changed_data,
    check_top_k,
    mixed,
    score_encoded,
    top_labels,
)
from charnn.inference.sequences import (
    held_out_sequences,
    labelled_sequences,
    score_sequences,
)
from charnn.model.classifier import CharClassifier
from charnn.model.ngrams import NgramNaiveBayes


def score_examples(
    model: CharClassifier,
    vocab: CharVocab,
    labels: Sequence[str],
    examples: Sequence[Example],
    *,
    unknown_chars: str = "drop",
    replace_with: str = " ",
    what: str = "the examples",
    progress: bool = False,
    baseline: np.ndarray | None = None,
    mix_weight: float | None = None,
) -> ClassifyResult:
    """`score_encoded` of labelled texts (`baseline`: the n-gram baseline's log posteriors of
    the same texts, scored beside the network and, with `mix_weight`, combined with it)."""
    started = time.perf_counter()
    encoded = encode_texts(
        vocab,
        [example.text for example in examples],
        unknown_chars=unknown_chars,
        replace_with=replace_with,
        what=what,
    )
    truth = [example.label for example in examples]
    return score_encoded(
        model,
        encoded,
        labels,
        truth,
        what=what,
        progress=progress,
        started=started,
        baseline=baseline,
        mix_weight=mix_weight,
    )


def score_checkpoint(
    checkpoint: Checkpoint,
    model: CharClassifier,
    options: EvalOptions | None = None,
    *,
    file: Path | None = None,
    progress: bool = False,
) -> ClassifyResult:
    """Score a classify run on its own held-out split (`options.split`), or on any labelled
    file (`file`; for a run on texts, characters the model never saw follow
    `options.unknown_chars`; for a run on sequences of numbers, an .npz file).

    The run's own splits drop unseen characters, as the evaluations during training did, so
    the numbers match its metrics.jsonl.
    """
    options = options or EvalOptions()
    if checkpoint.reads_values:
        sequences = (
            labelled_sequences(checkpoint, file)
            if file is not None
            else held_out_sequences(checkpoint, options.split)
        )
        what = f"labelled file {file}" if file is not None else f"the {options.split} split"
        return score_sequences(model, checkpoint.labels, sequences, what=what, progress=progress)
    labels, vocab = checkpoint.labels, checkpoint.chars
    baseline = checkpoint.ngram_baseline()
    if file is not None:
        examples = read_examples(
            file,
            encoding=options.encoding,
            errors=options.errors,
            decoding_fix=EVAL_DECODING_FIX,
            what="labelled file",
        )
        # The model was trained on texts cut to data.max_length.
        examples = truncated(examples, checkpoint.config.data.max_length)
        policy = {"unknown_chars": options.unknown_chars, "replace_with": options.replace_with}
        what = f"labelled file {file}"
    else:
        examples = held_out_examples(checkpoint, options.split)
        # The run's own splits drop unseen characters, as its evaluations did.
        policy, what = {}, f"the {options.split} split"
    return score_examples(
        model,
        vocab,
        labels,
        examples,
        **policy,
        what=what,
        progress=progress,
        baseline=(
            None
            if baseline is None
            else baseline.log_posteriors([example.text for example in examples])
        ),
        mix_weight=checkpoint.mix_weight,
    )


def held_out_examples(checkpoint: Checkpoint, split: str) -> list[Example]:
    data = checkpoint.config.data
    if split == "test" and data.test_fraction == 0 and data.test_path is None:
        raise CharnnError(NO_TEST_SPLIT)
    try:
        splits = prepare_examples(data, seed=checkpoint.config.train.seed)
    except DataError as error:
        raise DataError(
            f"{error.marked} (or score any labelled file with {key('file', 'PATH')})"
        ) from None
    if splits.sha256 != checkpoint.corpus.get("sha256"):
        raise DataError(changed_data(splits.name, split))
    return {"val": splits.val, "test": splits.test, "train": splits.train}[split]


def predict(
    model: CharClassifier,
    vocab: CharVocab,
    labels: Sequence[str],
    texts: Sequence[str],
    *,
    top_k: int = 1,
    unknown_chars: str = "error",
    replace_with: str = " ",
    baseline: NgramNaiveBayes | None = None,
    mix_weight: float | None = None,
) -> list[list[tuple[str, float]]]:
    """Per text, its `top_k` likeliest labels with probabilities, likeliest first (with
    `mix_weight`, of the network combined with the n-gram `baseline`)."""
    check_top_k(top_k)
    encoded = encode_texts(
        vocab, texts, unknown_chars=unknown_chars, replace_with=replace_with, what="the input"
    )
    logits = classify_logits(model, encoded)
    if baseline is not None and mix_weight is not None:
        logits = mixed(logits, baseline.log_posteriors(texts), mix_weight)
    return top_labels(logits, labels, top_k)
