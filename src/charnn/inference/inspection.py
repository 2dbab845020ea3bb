"""What a trained model makes of a text, character by character: the numbers `charnn inspect`
draws (charnn.artifacts.inspect_page) and writes as JSON.

A language model reads the text as `charnn eval` does, one stream with the state carried, and
each character after the first gets its surprisal (bits), the model's five likeliest characters
there, and the actual one's rank; the mean surprisal is eval's bits per character. Hidden units
become lanes: the last layer's output at each character, for the units asked for, the units whose
activation best separates the characters inside a pattern's matches from those outside
(LSTMVis's selection: the difference of the means over the pooled deviation), or by default the
most variable ones. Lines can be ranked by bits per character, most surprising first.

A classifier reads each text one prefix at a time: how the probabilities of its likeliest labels
change as it reads, and where the decision was made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, DataError, key
from charnn.inference.batches import EncodedTexts, classify_logits, encode_texts
from charnn.inference.scoring import mixed
from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.model.ngrams import NgramNaiveBayes

MAX_CHARS = 20_000
"""Characters of a language model's text inspected at most; the page says when it cuts."""
MAX_PREFIX = 200
"""A classifier's text is read prefix by prefix up to this many characters."""
MAX_TEXTS = 50
TOP = 5
DEFAULT_UNITS = 6
CHUNK = 1024


def inspect_language_model(
    model: CharRNN,
    vocab: CharVocab,
    text: str,
    *,
    units: Sequence[int] | None = None,
    pattern: str | None = None,
    lines: bool = False,
) -> dict[str, Any]:
    """The per-character numbers of `text` (at most MAX_CHARS of it) as plain data."""
    shown = text[:MAX_CHARS]
    ids = vocab.encode(shown, what="the text")
    if len(ids) < 2:
        raise DataError("a text needs at least 2 characters to be inspected")
    outputs, log_probs = _read(model, ids)  # (T, H), (T - 1, V)
    targets = ids[1:]
    bits = (-log_probs.gather(1, targets.unsqueeze(1)).squeeze(1) / math.log(2)).numpy()
    top_p, top_i = log_probs.exp().topk(min(TOP, log_probs.shape[1]), dim=1)
    ranks = (log_probs > log_probs.gather(1, targets.unsqueeze(1))).sum(1) + 1
    decode = vocab.decode if vocab.tokenizer == "chars" else _byte_label
    symbols = [decode(ids[i : i + 1]) for i in range(len(ids))]
    chars: list[dict[str, Any]] = [{"char": symbols[0], "bits": None, "top": [], "rank": None}]
    chars += [
        {
            "char": symbols[t + 1],
            "bits": float(bits[t]),
            "top": [
                [decode(top_i[t, k : k + 1]), float(top_p[t, k])] for k in range(top_i.shape[1])
            ],
            "rank": int(ranks[t]),
        }
        for t in range(len(targets))
    ]
    chosen, how = _choose_units(outputs, shown, units=units, pattern=pattern)
    report: dict[str, Any] = {
        "kind": "lm",
        "chars": chars,
        "bits_per_char": float(bits.mean()),
        "scored": len(targets),
        "total_chars": len(text),
        "shown_chars": len(shown),
        "units": {
            "how": how,
            "layer": "output of the last recurrent layer",
            "lanes": [
                {
                    "unit": unit,
                    "score": score,
                    "values": [round(float(v), 4) for v in outputs[:, unit].tolist()],
                }
                for unit, score in chosen
            ],
        },
    }
    if lines:
        report["lines"] = _rank_lines(shown, bits)
    return report


def _read(model: CharRNN, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the last layer's output at every character (T, H), log-probabilities of each next
    character (T - 1, V)), read as one stream in chunks with the state carried."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs, log_probs = [], []
    try:
        with torch.inference_mode():
            hidden = None
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK].unsqueeze(0).to(device).long()  # (1, T)
                embedded = model.embedding(chunk)
                output, hidden = model.rnn(embedded, hidden)  # (1, T, H)
                outputs.append(output[0].float().cpu())
                log_probs.append(model.head(output)[0].float().log_softmax(1).cpu())
    finally:
        model.train(was_training)
    every = torch.cat(log_probs)  # (T, V): position t predicts t + 1
    return torch.cat(outputs), every[:-1]


def _byte_label(ids: torch.Tensor) -> str:
    byte = int(ids[0])
    return chr(byte) if 32 <= byte < 127 or byte == 10 else f"\\x{byte:02x}"


def _choose_units(
    outputs: torch.Tensor, text: str, *, units: Sequence[int] | None, pattern: str | None
) -> tuple[list[tuple[int, float]], str]:
    """(unit, score) lanes and how they were chosen."""
    hidden = outputs.shape[1]
    if units:
        outside = [unit for unit in units if not 0 <= unit < hidden]
        if outside:
            raise CharnnError(
                f"{key('units')} has {outside[0]}; this model's units are 0 to {hidden - 1}"
            )
        spread = outputs.std(0)
        return [(unit, float(spread[unit])) for unit in units], "the units asked for"
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise CharnnError(
                f"{key('pattern')} {pattern!r} is not a regular expression ({error})"
            ) from None
        inside = np.zeros(len(text), dtype=bool)
        for match in compiled.finditer(text):
            inside[match.start() : match.end()] = True
        if inside.all() or not inside.any():
            raise CharnnError(
                f"{key('pattern')} {pattern!r} matches {'every' if inside.all() else 'no'} "
                "character of the text; give one that matches some characters and not others"
            )
        mask = torch.from_numpy(inside[: len(outputs)])
        within, without = outputs[mask], outputs[~mask]
        pooled = torch.sqrt((within.var(0, unbiased=False) + without.var(0, unbiased=False)) / 2)
        separation = (within.mean(0) - without.mean(0)) / pooled.clamp(min=1e-6)
        order = separation.abs().argsort(descending=True)[:DEFAULT_UNITS]
        return (
            [(int(unit), float(separation[unit])) for unit in order],
            f"the units that best separate the matches of {pattern!r} from the rest",
        )
    spread = outputs.std(0)
    order = spread.argsort(descending=True)[:DEFAULT_UNITS]
    return [(int(unit), float(spread[unit])) for unit in order], "the most variable units"


def _rank_lines(text: str, bits: np.ndarray) -> list[dict[str, Any]]:
    """Each line's bits per character (its characters as predicted, its line break included),
    most surprising first."""
    ranked = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        # bits[t] is the surprisal of character t + 1; the first character has none.
        first, stop = max(start, 1), min(start + len(line) + 1, len(text))
        if stop > first:
            scores = bits[first - 1 : stop - 1]
            ranked.append({"line": number, "text": line, "bits_per_char": float(scores.mean())})
        start += len(line) + 1
    return sorted(ranked, key=lambda row: -row["bits_per_char"])


def inspect_classifier(
    model: CharClassifier,
    vocab: CharVocab,
    labels: Sequence[str],
    texts: Sequence[str],
    *,
    top_k: int = 3,
    baseline: NgramNaiveBayes | None = None,
    mix_weight: float | None = None,
) -> dict[str, Any]:
    """Per text (at most MAX_TEXTS), the probabilities of its `top_k` final labels after each
    character (the first MAX_PREFIX), and where the final label took the lead for good."""
    shown = list(texts[:MAX_TEXTS])
    reports = []
    for text in shown:
        cut = text[:MAX_PREFIX]
        prefixes = [cut[: end + 1] for end in range(len(cut))]
        encoded: EncodedTexts = encode_texts(vocab, prefixes, unknown_chars="drop")
        logits = classify_logits(model, encoded)
        if baseline is not None and mix_weight is not None:
            logits = mixed(logits, baseline.log_posteriors(prefixes), mix_weight)
        probabilities = logits.float().softmax(1)  # (prefixes, C)
        final = probabilities[-1].topk(min(top_k, len(labels)))
        leader = probabilities.argmax(1).tolist()
        decided = len(leader)
        while decided > 0 and leader[decided - 1] == leader[-1]:
            decided -= 1
        reports.append(
            {
                "text": text,
                "shown_chars": len(cut),
                "top": [[labels[i], float(p)] for p, i in zip(*final, strict=True)],
                "curves": {
                    labels[i]: [round(float(p), 4) for p in probabilities[:, i].tolist()]
                    for i in final.indices.tolist()
                },
                "decided_at": decided,
            }
        )
    return {
        "kind": "classify",
        "texts": reports,
        "total_texts": len(texts),
        "shown_texts": len(shown),
        "labels": list(labels),
    }
