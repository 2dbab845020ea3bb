from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.config import ModelConfig
from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, DataError
from charnn.inference.sampler import (
    SamplingOptions,
    filter_logits,
    generate,
    gumbel,
    next_ids,
    sample_text,
)
from charnn.model.network import CharRNN


@pytest.fixture(scope="module")
def model_and_vocab(trained_run: Path) -> tuple[CharRNN, CharVocab]:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    return checkpoint.build_model(), checkpoint.vocab


def test_same_seed_same_text_and_other_seeds_differ(
    model_and_vocab: tuple[CharRNN, CharVocab],
) -> None:
    model, vocab = model_and_vocab
    options = SamplingOptions(temperature=1.5)
    first = sample_text(model, vocab, prime="the ", length=80, options=options, seed=3)
    again = sample_text(model, vocab, prime="the ", length=80, options=options, seed=3)
    other = sample_text(model, vocab, prime="the ", length=80, options=options, seed=4)
    assert first == again
    assert first != other
    assert first.startswith("the ") and len(first) == 84


@pytest.mark.parametrize("prime", ["to be ", "t"])  # one symbol: the stepper starts from zeros
def test_zero_temperature_is_greedy(model_and_vocab: tuple[CharRNN, CharVocab], prime: str) -> None:
    model, vocab = model_and_vocab
    text = sample_text(
        model, vocab, prime=prime, length=30, options=SamplingOptions(temperature=0), seed=1
    )
    # Greedy decoding by hand: feed the text so far, take the argmax.
    expected = prime
    with torch.no_grad():
        for _ in range(30):
            logits, _ = model(vocab.encode(expected).unsqueeze(0))
            expected += vocab.chars[int(logits[0, -1].argmax())]
    assert text == expected
    if prime == "to be ":
        assert text.startswith("to be or not to be")  # the model learned the corpus
    top_1 = sample_text(
        model, vocab, prime=prime, length=30, options=SamplingOptions(top_k=1), seed=9
    )
    assert top_1 == expected


def _assert_frequencies_match(ids: torch.Tensor, expected: torch.Tensor) -> None:
    """Observed frequencies of ids (n,) against probabilities (V,), within 5 binomial standard
    errors (plus 1e-3), which keeps the test stable."""
    expected = expected.double()
    observed = torch.bincount(ids, minlength=expected.numel()).double() / ids.numel()
    tolerance = 5 * torch.sqrt(expected * (1 - expected) / ids.numel()) + 1e-3
    assert torch.all((observed - expected).abs() <= tolerance)


# Plain sampling folds the noise into the head's product; a top-k as large as the vocabulary
# filters nothing but takes the other path (logits, then `next_ids`).
@pytest.mark.parametrize("top_k", [0, 10_000])
def test_the_sampled_distribution_is_the_models(
    model_and_vocab: tuple[CharRNN, CharVocab], top_k: int
) -> None:
    """Next-character frequencies over many samples match a plain forward pass, for the first
    character and for the second given the most common first."""
    model, vocab = model_and_vocab
    prime = "a stitch in "
    temperature = 2.0  # flatten the distribution so several characters are drawn
    draws = 20_000
    steps = generate(
        model,
        vocab,
        prime=prime,
        length=2,
        num_samples=draws,
        options=SamplingOptions(temperature=temperature, top_k=top_k),
        seed=0,
    )
    first, second = (vocab.encode("".join(chars)) for chars in steps)
    with torch.no_grad():
        logits, _ = model(vocab.encode(prime).unsqueeze(0))
        _assert_frequencies_match(first, torch.softmax(logits[0, -1] / temperature, dim=-1))
        common = int(torch.bincount(first).argmax())
        logits, _ = model(vocab.encode(prime + vocab.chars[common]).unsqueeze(0))
    _assert_frequencies_match(
        second[first == common], torch.softmax(logits[0, -1] / temperature, dim=-1)
    )


def test_infinite_temperature_draws_every_character_alike(
    model_and_vocab: tuple[CharRNN, CharVocab],
) -> None:
    model, vocab = model_and_vocab
    options = SamplingOptions(temperature=float("inf"))
    (first,) = generate(model, vocab, prime="the", length=1, num_samples=20_000, options=options)
    _assert_frequencies_match(
        vocab.encode("".join(first)), torch.full((len(vocab),), 1 / len(vocab))
    )


def test_filter_logits_top_k_keeps_exactly_k() -> None:
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = filter_logits(logits, top_k=2, top_p=1.0)
    assert torch.isfinite(kept).tolist() == [[False, True, False, True, False]]
    assert torch.equal(filter_logits(logits, top_k=0, top_p=1.0), logits)
    assert torch.equal(filter_logits(logits, top_k=10, top_p=1.0), logits)


def test_filter_logits_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([[0.05, 0.5, 0.3, 0.15]])
    logits = probs.log()
    assert torch.isfinite(filter_logits(logits, top_k=0, top_p=0.5)).tolist() == [
        [False, True, False, False]
    ]
    assert torch.isfinite(filter_logits(logits, top_k=0, top_p=0.8)).tolist() == [
        [False, True, True, False]
    ]
    assert torch.isfinite(filter_logits(logits, top_k=0, top_p=0.81)).tolist() == [
        [False, True, True, True]
    ]
    assert torch.isfinite(filter_logits(logits, top_k=0, top_p=0.01)).tolist() == [
        [False, True, False, False]
    ]


def test_top_p_never_samples_outside_the_nucleus() -> None:
    logits = torch.tensor([0.05, 0.5, 0.3, 0.15]).log().expand(5000, 4)
    noise = gumbel(logits.shape, torch.Generator().manual_seed(0))
    drawn = next_ids(logits, SamplingOptions(top_p=0.8), noise)
    assert set(drawn.tolist()) == {1, 2}


def test_temperature_sharpens_and_flattens() -> None:
    logits = torch.tensor([2.0, 1.0, 0.0]).expand(20_000, 3)
    generator = torch.Generator().manual_seed(0)

    def noise() -> torch.Tensor:
        return gumbel(logits.shape, generator)

    def share_of_top(temperature: float) -> float:
        return (
            (next_ids(logits, SamplingOptions(temperature=temperature), noise()) == 0)
            .float()
            .mean()
            .item()
        )

    assert share_of_top(0.25) > share_of_top(1.0) > share_of_top(4.0) > 1 / 3


def test_many_samples_in_one_batch(model_and_vocab: tuple[CharRNN, CharVocab]) -> None:
    model, vocab = model_and_vocab
    steps = list(generate(model, vocab, prime="the", length=12, num_samples=5, seed=0))
    assert len(steps) == 12 and all(len(chars) == 5 for chars in steps)


def test_no_prime_and_zero_length(model_and_vocab: tuple[CharRNN, CharVocab]) -> None:
    model, vocab = model_and_vocab
    assert len(sample_text(model, vocab, length=25, seed=0)) == 25
    assert sample_text(model, vocab, prime="the", length=0, seed=0) == "the"


def test_bad_generate_arguments_fail_before_any_output(
    model_and_vocab: tuple[CharRNN, CharVocab],
) -> None:
    model, vocab = model_and_vocab
    with pytest.raises(CharnnError, match="length must be >= 0"):
        generate(model, vocab, length=-1)
    with pytest.raises(CharnnError, match="num_samples must be >= 1"):
        generate(model, vocab, length=5, num_samples=0)
    with pytest.raises(
        DataError, match=r"the prime text has 1 character\(s\) the model never saw.*'Z'"
    ):
        generate(model, vocab, prime="Zebra", length=5)


def test_an_untrained_model_samples_every_character() -> None:
    torch.manual_seed(0)
    vocab = CharVocab("abc")
    model = CharRNN(ModelConfig(hidden_size=4, num_layers=1, embedding_dim=2), vocab_size=3)
    text = sample_text(
        model, vocab, prime="a", length=300, options=SamplingOptions(temperature=5), seed=0
    )
    assert set(text) == {"a", "b", "c"}


def test_gumbel_argmax_follows_the_probabilities_and_never_picks_an_impossible_id() -> None:
    probs = torch.tensor([0.0, 0.5, 0.0, 0.2, 0.3, 0.0])
    logits = probs.log().expand(40_000, 6)  # log 0 = -inf
    drawn = (logits + gumbel(logits.shape, torch.Generator().manual_seed(0))).argmax(dim=-1)
    assert torch.bincount(drawn, minlength=6)[[0, 2, 5]].sum() == 0
    _assert_frequencies_match(drawn, probs)
    noise = gumbel((100_000,), torch.Generator().manual_seed(1))
    # Gumbel(0, 1): mean = Euler's constant, variance = pi^2 / 6.
    assert abs(noise.mean().item() - 0.5772) < 0.02
    assert abs(noise.var().item() - torch.pi**2 / 6) < 0.05


def test_a_longer_sample_starts_with_the_shorter_one(
    model_and_vocab: tuple[CharRNN, CharVocab], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noise is drawn ahead a block of steps at a time, sized by the number of streams and the
    vocabulary only, so the length asked for does not change the draws. (On the CPU, torch
    draws uniforms one after another, so even the block size does not change them.)"""
    model, vocab = model_and_vocab
    options = SamplingOptions(temperature=1.2)
    short = sample_text(model, vocab, prime="the ", length=50, options=options, seed=5)
    long = sample_text(model, vocab, prime="the ", length=300, options=options, seed=5)
    assert long.startswith(short)
    monkeypatch.setattr("charnn.inference.sampler.NOISE_BLOCK_ELEMENTS", 1)  # one step per block
    assert sample_text(model, vocab, prime="the ", length=50, options=options, seed=5) == short


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("top_k", [0, 10_000])
def test_sampling_on_cuda_follows_the_models_distribution(
    model_and_vocab: tuple[CharRNN, CharVocab], top_k: int
) -> None:
    shared_model, vocab = model_and_vocab
    model = copy.deepcopy(shared_model).cuda()  # the fixture's model stays on the CPU
    prime, temperature = "a stitch in ", 2.0
    options = SamplingOptions(temperature=temperature, top_k=top_k)
    (first,) = generate(model, vocab, prime=prime, length=1, num_samples=20_000, options=options)
    with torch.no_grad():
        logits, _ = model(vocab.encode(prime).unsqueeze(0).cuda())
    expected = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=-1)
    _assert_frequencies_match(vocab.encode("".join(first)), expected)


def test_sample_i_of_a_batch_is_the_sample_its_own_seed_gives(trained_run: Path) -> None:
    """With --num-samples 2 --seed 1 the first sample differed from the one-sample --seed 1
    text: the batch shared one generator."""
    import charnn

    model = charnn.load_model(trained_run)
    for options in ({"temperature": 2.0}, {"temperature": 2.0, "top_k": 5}):
        _, steps = model.stream("the ", length=40, seed=7, num_samples=3, **options)
        columns = list(zip(*steps, strict=True))
        batch = ["the " + "".join(column) for column in columns]
        alone = [model.generate("the ", length=40, seed=7 + i, **options) for i in range(3)]
        assert batch == alone
        assert len(set(batch)) > 1  # and they are different samples


def test_greedy_sampling_prints_no_seed(trained_run: Path) -> None:
    from typer.testing import CliRunner

    from charnn.cli import app

    greedy = CliRunner().invoke(
        app, ["sample", str(trained_run), "--temperature", "0", "--length", "5"]
    )
    assert greedy.exit_code == 0 and "seed" not in greedy.stderr
    drawn = CliRunner().invoke(app, ["sample", str(trained_run), "--length", "5"])
    assert "pass --seed" in drawn.stderr
