"""Generate text from a model, one character per step, for one or many samples at once.

Sampling draws from an explicit `torch.Generator`, so the same seed gives the same text.
`generate` yields characters as they are made and prints nothing: the caller decides where
they go (the CLI streams them to stdout).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from charnn.errors import CharnnError
from charnn.model import CharRNN
from charnn.stepper import Stepper
from charnn.vocab import UNKNOWN_CHARS_FIX, CharVocab


@dataclass(frozen=True, kw_only=True)
class SamplingOptions:
    temperature: float = 1.0
    """Divides the logits: below 1 is more conservative, above 1 more adventurous; 0 is greedy."""
    top_k: int = 0
    """Draw only from the k most likely characters; 0 turns it off."""
    top_p: float = 1.0
    """Draw only from the smallest set of characters whose probability reaches p (nucleus)."""

    def __post_init__(self) -> None:
        if not self.temperature >= 0:  # also rejects NaN
            raise CharnnError(
                f"--temperature must be >= 0 (0 = greedy, 1 = the model's own distribution); "
                f"got {self.temperature}"
            )
        if self.top_k < 0:
            raise CharnnError(f"--top-k must be >= 0 (0 = off); got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise CharnnError(f"--top-p must be in (0, 1] (1 = off); got {self.top_p}")


def filter_logits(logits: torch.Tensor, *, top_k: int, top_p: float) -> torch.Tensor:
    """Set the logits of characters outside the top-k / top-p set to -inf. logits (B, V)."""
    if 0 < top_k < logits.shape[-1]:
        kth_largest = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a character when the ones more likely than it already reach top_p; the most
        # likely character always stays.
        mass_before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = mass_before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_ids(
    logits: torch.Tensor, options: SamplingOptions, generator: torch.Generator | None
) -> torch.Tensor:
    """Draw one id per row from logits (B, V) -> (B,)."""
    if options.temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(
        logits.float() / options.temperature, top_k=options.top_k, top_p=options.top_p
    )
    probs = torch.softmax(logits, dim=-1)
    return draw(probs, generator)


def draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One id per row of probs (B, V), each with its probability (inverse-CDF sampling).

    The same distribution as torch.multinomial with one draw, at a fraction of its fixed cost
    per call on a CPU, which matters when it runs once per character. The
    sums are in float64, so a uniform draw never lands past the last id; `right=True` never
    picks an id of probability 0.
    """
    cdf = probs.double().cumsum(dim=-1)  # (B, V)
    uniform = torch.rand(
        probs.shape[0], 1, generator=generator, dtype=torch.float64, device=probs.device
    )
    chosen = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True)  # (B, 1)
    return chosen.clamp_(max=probs.shape[-1] - 1).squeeze(-1)


def generate(
    model: CharRNN,
    vocab: CharVocab,
    *,
    prime: str = "",
    length: int,
    num_samples: int = 1,
    options: SamplingOptions | None = None,
    seed: int = 0,
) -> Iterator[list[str]]:
    """Yield `length` steps; each step is a list with the next text of every sample.

    A step is one symbol: a character, or with the bytes tokenizer one byte, whose text is ""
    until it completes a UTF-8 character (one last step may then flush an unfinished one as
    U+FFFD). The prime is read first (it is not yielded); with no prime, generation starts as
    if after a line break, or after the vocabulary's first character when it has none.
    Arguments are checked here, before the first character is asked for.
    """
    if length < 0:
        raise CharnnError(f"--length must be >= 0; got {length}")
    if num_samples < 1:
        raise CharnnError(f"--num-samples must be >= 1; got {num_samples}")
    start = prime or vocab.start_symbol
    prime_ids = vocab.encode(start, what="the prime text", fix=UNKNOWN_CHARS_FIX)
    return _generate(
        model, vocab, prime_ids, length, num_samples, options or SamplingOptions(), seed
    )


def _generate(
    model: CharRNN,
    vocab: CharVocab,
    prime_ids: torch.Tensor,
    length: int,
    num_samples: int,
    options: SamplingOptions,
    seed: int,
) -> Iterator[list[str]]:
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    with torch.inference_mode():
        inputs = prime_ids.to(device).unsqueeze(0).expand(num_samples, -1)  # (N, P)
        logits, hidden = model(inputs)  # (N, P, V): the whole prime in one call
        logits = logits[:, -1]  # (N, V)
        stepper = Stepper(model, hidden)  # then one character at a time, the lean way
        decoders = [vocab.decoder() for _ in range(num_samples)]
        for step in range(length):
            chosen = next_ids(logits, options, generator)  # (N,)
            pairs = zip(decoders, chosen.tolist(), strict=True)
            yield [decoder.feed(index) for decoder, index in pairs]
            if step + 1 < length:
                logits = stepper.step(chosen)
        ends = [decoder.flush() for decoder in decoders]
        if any(ends):  # bytes of an unfinished character (bytes tokenizer only)
            yield ends


def sample_text(
    model: CharRNN,
    vocab: CharVocab,
    *,
    prime: str = "",
    length: int,
    options: SamplingOptions | None = None,
    seed: int = 0,
) -> str:
    """One sample as a string, prime included."""
    steps = generate(model, vocab, prime=prime, length=length, options=options, seed=seed)
    return prime + "".join(chars[0] for chars in steps)
