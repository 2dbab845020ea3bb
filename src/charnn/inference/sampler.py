"""Generate text from a model, one character per step, for one or many samples at once.

Sample i of a batch draws from its own generator, seeded `seed + i`: it is the text a run of
one sample with that seed gives, so any sample of a batch can be made again on its own.

Sampling draws from an explicit `torch.Generator`, so the same seed gives the same text.
`generate` yields characters as they are made and prints nothing: the caller decides where
they go (the CLI streams them to stdout).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from typing import Any

import torch

from charnn.data.vocab import UNKNOWN_CHARS_FIX, CharVocab
from charnn.inference.options import SamplingOptions
from charnn.inference.stepper import sampling_step
from charnn.model.network import CharRNN, Hidden


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
    logits: torch.Tensor, options: SamplingOptions, noise: torch.Tensor | None
) -> torch.Tensor:
    """Draw one id per row from logits (B, V) -> (B,); `noise` is `gumbel` noise of the same
    shape (None when greedy)."""
    if options.temperature == 0:
        return logits.argmax(dim=-1)
    if noise is None:
        raise ValueError("sampling at a temperature above 0 needs noise")
    logits = filter_logits(
        logits.float() / options.temperature, top_k=options.top_k, top_p=options.top_p
    )
    return (logits + noise).argmax(dim=-1)


def gumbel(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | None = None
) -> torch.Tensor:
    """Gumbel(0, 1) noise, float64: argmax(logits + noise) picks each id with probability
    softmax(logits) exactly (the Gumbel-max trick).

    That is one argmax per character where inverse-CDF sampling needs a softmax, a cumulative
    sum and a search, and the noise can be drawn ahead for many characters at once. Uniforms
    in float64 let the noise's upper tail reach about 37 rather than float32's 17; a uniform of
    exactly 0 gives -inf, which never wins, so an id of probability 0 (logit -inf) is never
    picked either.
    """
    return uniform_to_gumbel_(
        torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    )


def uniform_to_gumbel_(uniform: torch.Tensor) -> torch.Tensor:
    """Uniform(0, 1) values turned into Gumbel(0, 1) noise, in place: -log(-log(u))."""
    return uniform.log_().neg_().log_().neg_()


NOISE_BLOCK_STEPS = 64
"""How many steps' noise `_NoiseRows` draws at once..."""
NOISE_BLOCK_ELEMENTS = 1 << 20
"""...unless that would be more values than this per stream (8 MiB in float64: a large
vocabulary, as the bytes tokenizer's, stays within it)."""


class _NoiseRows:
    """`gumbel + shift` rows, one (N, V) per step, drawn a block of steps at a time, so
    that each generator runs once per block rather than once per character.

    Row i comes from generators[i] alone, in blocks whose size depends only on V: a longer
    sample with the same seed continues the shorter one, and a sample of a batch is the sample
    its seed gives alone.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        generators: list[torch.Generator],
        dtype: torch.dtype,
        shift: torch.Tensor | None = None,
    ) -> None:
        self._vocab_size, self._generators = vocab_size, generators
        self._dtype, self._shift = dtype, shift
        self._block = max(1, min(NOISE_BLOCK_STEPS, NOISE_BLOCK_ELEMENTS // vocab_size))
        self._rows: list[torch.Tensor] = []
        self._next = 0

    def next(self) -> torch.Tensor:
        if self._next == len(self._rows):
            generators = self._generators
            uniform = torch.empty(  # (N, S, V): one contiguous slab per generator
                len(generators),
                self._block,
                self._vocab_size,
                dtype=torch.float64,
                device=generators[0].device,
            )
            for row, generator in zip(uniform, generators, strict=True):
                torch.rand(row.shape, generator=generator, dtype=torch.float64, out=row)
            block = uniform_to_gumbel_(uniform)
            if self._shift is not None:
                block.add_(self._shift.double())
            # (S, N, V), each step's rows contiguous, in the dtype the step adds them in.
            steps = block.transpose(0, 1).to(self._dtype).contiguous()
            self._rows = list(steps.unbind(0))
            self._next = 0
        self._next += 1
        return self._rows[self._next - 1]


class _Draws:
    """Feeds one id per stream to the model and draws the next: `draws(ids (N,)) -> (N,)`.

    Plain sampling (no top-k or top-p) folds everything into the head's matrix product: the
    head's weights and bias are divided by the temperature once, and the Gumbel noise plus that
    bias is drawn ahead, so one addmm and one argmax follow the recurrent layers. Greedy and
    filtered draws take the logits and go through `next_ids`.
    """

    def __init__(
        self,
        model: CharRNN,
        hidden: Hidden,
        options: SamplingOptions,
        *,
        generators: list[torch.Generator],
    ) -> None:
        self._options = options
        self._folded = options.temperature > 0 and options.top_k == 0 and options.top_p == 1.0
        scale = 1 / options.temperature if self._folded else 1.0
        self._stepper = sampling_step(model, hidden, logit_scale=scale)
        head_bias = self._stepper.head_bias  # (V,), already divided when folded
        vocab_size = head_bias.shape[0]
        self._noise = None
        if self._folded:
            self._noise = _NoiseRows(
                vocab_size, generators=generators, dtype=head_bias.dtype, shift=head_bias
            )
        elif options.temperature > 0:
            self._noise = _NoiseRows(vocab_size, generators=generators, dtype=torch.float32)

    def __call__(self, ids: torch.Tensor, *, out: torch.Tensor) -> torch.Tensor:
        """Write the next ids (N,) into `out` and return it."""
        if self._folded:
            assert self._noise is not None
            logits = self._stepper.step(ids, head_bias=self._noise.next())
            return torch.argmax(logits, dim=-1, out=out)
        noise = None if self._noise is None else self._noise.next()
        return out.copy_(next_ids(self._stepper.step(ids), self._options, noise))


DECODE_BLOCK_STEPS = 32
"""`generate` draws this many steps into a buffer before it reads them back as text."""


def generate(
    model: CharRNN,
    vocab: CharVocab,
    options: SamplingOptions | None = None,
    *,
    prime: str = "",
    **overrides: Any,
) -> Iterator[list[str]]:
    """Yield `options.length` steps; each step is a list with the next text of every sample.

    `overrides` replace fields of `options` (`length=50, seed=3`), checked as the options are.
    A step is one symbol: a character, or with the bytes tokenizer one byte, whose text is ""
    until it completes a UTF-8 character (one last step may then flush an unfinished one as
    U+FFFD). The prime is read first (it is not yielded); with no prime, generation starts as
    if after a line break, or after the vocabulary's first character when it has none.
    Arguments are checked here, before the first character is asked for.
    """
    options = dataclasses.replace(options or SamplingOptions(), **overrides)
    start = prime or vocab.start_symbol
    prime_ids = vocab.encode(start, what="the prime text", fix=UNKNOWN_CHARS_FIX)
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    return _generate(model, vocab, prime_ids, options, seed)


def _generate(
    model: CharRNN, vocab: CharVocab, prime_ids: torch.Tensor, options: SamplingOptions, seed: int
) -> Iterator[list[str]]:
    length, num_samples = options.length, options.num_samples
    device = next(model.parameters()).device
    generators = [
        torch.Generator(device=device).manual_seed(seed + index) for index in range(num_samples)
    ]
    model.eval()
    with torch.inference_mode():
        inputs = prime_ids.to(device).unsqueeze(0).expand(num_samples, -1)  # (N, P)
        # The prime but its last symbol in one call; that one goes through the sampling step
        # like every character after it, so every draw is made the same way.
        if inputs.shape[1] > 1:
            _, hidden = model(inputs[:, :-1])
        else:
            hidden = model.zero_hidden(num_samples)
        draws = _Draws(model, hidden, options, generators=generators)
        decoders = [vocab.decoder() for _ in range(num_samples)]
        chosen = inputs[:, -1]  # (N,)
        # Ids go into a buffer and come back to Python a block of steps at a time: on a GPU,
        # reading each step's ids apart made the host wait for the device once per character
        # instead of queueing the next steps' kernels (on a CPU it saves little).
        block = torch.empty(DECODE_BLOCK_STEPS, num_samples, dtype=torch.long, device=device)
        rows = block.unbind(0)  # (N,) views, one per step of a block
        for start in range(0, length, DECODE_BLOCK_STEPS):
            steps = min(DECODE_BLOCK_STEPS, length - start)
            for row in rows[:steps]:
                chosen = draws(chosen, out=row)
            for ids in block[:steps].tolist():
                yield [decoder.feed(index) for decoder, index in zip(decoders, ids, strict=True)]
        ends = [decoder.flush() for decoder in decoders]
        if any(ends):  # bytes of an unfinished character (bytes tokenizer only)
            yield ends


def sample_text(
    model: CharRNN,
    vocab: CharVocab,
    options: SamplingOptions | None = None,
    *,
    prime: str = "",
    **overrides: Any,
) -> str:
    """One sample as a string, prime included."""
    steps = generate(model, vocab, options, prime=prime, **overrides)
    return prime + "".join(chars[0] for chars in steps)
