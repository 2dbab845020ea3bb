"""What bench.py times: charnn's trainer and generator, and the plain PyTorch they are measured
against (a hand-written training loop, a naive sampling loop, nn.RNN), each returning chars/s.

Each contender runs on what it is given and synchronises a GPU before reading its clock, so
that `reporting.in_rounds` can time any two of them side by side.
"""

from __future__ import annotations

import statistics
import time

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

import torch
import torch.nn.functional as F

from charnn.config import RunConfig
from charnn.inference import stepper as stepper_module
from charnn.inference.sampler import SamplingOptions, generate
from charnn.inference.stepper import Stepper
from charnn.model.network import CharRNN, detach_hidden
from charnn.model.simple_rnn import SimpleRNN
from charnn.training.loop import train
from charnn.training.step import build_optimizer
from reporting import Rounds, in_rounds, synchronize
from stepper_bounds import run_products


def minimal_loop_chars_per_s(
    config: RunConfig, train_ids: torch.Tensor, vocab_size: int, steps: int, device: torch.device
) -> float:
    """The loop a user would write by hand: same model, batch, optimizer and clipping."""
    torch.manual_seed(config.train.seed)
    model = CharRNN(config.model, vocab_size).to(device)
    optimizer = build_optimizer(model, config.train, device)
    batch, window = config.train.batch_size, config.train.seq_len
    columns = len(train_ids) // batch
    data = train_ids[: batch * columns].view(batch, columns).to(device)  # (B, L)
    hidden = None
    synchronize(device)
    started = time.perf_counter()
    for step in range(steps):
        start = (step * window) % (columns - window - 1)
        inputs, targets = data[:, start : start + window], data[:, start + 1 : start + window + 1]
        logits, hidden = model(inputs, hidden)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        hidden = detach_hidden(hidden)
    loss.item()
    synchronize(device)
    return steps * batch * window / (time.perf_counter() - started)


def charnn_training_chars_per_s(config: RunConfig) -> float:
    return train(config, overwrite=True).chars_per_s


def recurrent_core_chars_per_s(
    core_class: type[torch.nn.RNN | SimpleRNN],
    layers: int,
    hidden: int,
    batch_size: int,
    seq_len: int,
    vocab_size: int,
    steps: int,
    device: torch.device,
) -> float:
    """Training chars/s of embedding -> a tanh `core_class` -> head in a hand-written loop:
    SimpleRNN and nn.RNN compared on equal terms, everything but the recurrent module the
    same."""
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(vocab_size, 64).to(device)
    head = torch.nn.Linear(hidden, vocab_size).to(device)
    core = core_class(64, hidden, layers, batch_first=True).to(device)
    modules = torch.nn.ModuleList([embedding, core, head])
    optimizer = torch.optim.AdamW(modules.parameters(), lr=1e-3)
    shape = (batch_size, seq_len)
    inputs = torch.randint(0, vocab_size, shape, device=device)
    targets = torch.randint(0, vocab_size, shape, device=device)

    def step() -> torch.Tensor:
        output, _ = core(embedding(inputs))  # (B, T, H)
        logits = head(output)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    step()  # warm-up
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    synchronize(device)
    return steps * batch_size * seq_len / (time.perf_counter() - started)


def naive_sampling_chars_per_s(model: CharRNN, length: int, device: torch.device) -> float:
    """One character per model call: embed, run the RNN module, softmax, multinomial."""
    generator = torch.Generator(device=device).manual_seed(0)
    ids = torch.zeros(1, 1, dtype=torch.long, device=device)
    hidden = None
    produced = []
    started = time.perf_counter()
    with torch.inference_mode():
        for _ in range(length):
            logits, hidden = model(ids, hidden)
            probs = torch.softmax(logits[0, -1] / 0.8, dim=-1)
            ids = torch.multinomial(probs, 1, generator=generator).view(1, 1)
            produced.append(ids.item())
    return length / (time.perf_counter() - started)


def charnn_sampling_chars_per_s(model: CharRNN, vocab: object, streams: int, length: int) -> float:
    started = time.perf_counter()
    steps = generate(
        model,
        vocab,
        length=length,
        num_samples=streams,  # type: ignore[arg-type]
        options=SamplingOptions(temperature=0.8),
        seed=0,
    )
    count = sum(len(chars) for chars in steps)
    return count / (time.perf_counter() - started)


def products_only_chars_per_s(
    model: CharRNN, streams: int, length: int, device: torch.device
) -> float:
    """The lean step's matrix products alone, `length` times over: how fast sampling would be
    if every other operation of a step (the cell's pointwise work, the draw, the loop) were
    free. A bound on charnn's sampling speed that only faster products could raise."""
    with torch.inference_mode():
        stepper = Stepper(model, model.zero_hidden(streams))
        synchronize(device)
        started = time.perf_counter()
        for _ in range(length):
            run_products(stepper)
        synchronize(device)
    return streams * length / (time.perf_counter() - started)


def unsplit_sampling_chars_per_s(model: CharRNN, vocab: object, length: int) -> float:
    """charnn's generator with one stream, its products not split across threads."""
    stepper_module.SPLIT_ONE_STREAM = False
    try:
        return charnn_sampling_chars_per_s(model, vocab, 1, length)
    finally:
        stepper_module.SPLIT_ONE_STREAM = True


def sampling_rounds(
    model: CharRNN, vocab: object, length: int, repeats: int, device: torch.device
) -> tuple[Rounds, float]:
    """The chars/s of the `naive` loop, charnn's generator with `one` stream and with `many`
    (64), the generator with one stream whose products are not split across threads
    (`one_unsplit`), and the products alone with one and 64 streams (`one_bound`,
    `many_bound`), in `repeats` rounds; and the naive loop's median page faults per
    character."""
    faults: list[float] = []

    def naive() -> float:
        before = minor_page_faults()
        speed = naive_sampling_chars_per_s(model, length, device)
        faults.append((minor_page_faults() - before) / length)
        return speed

    contenders = {
        "naive": naive,
        "one": lambda: charnn_sampling_chars_per_s(model, vocab, 1, length),
        "one_unsplit": lambda: unsplit_sampling_chars_per_s(model, vocab, length),
        "many": lambda: charnn_sampling_chars_per_s(model, vocab, 64, length),
        "one_bound": lambda: products_only_chars_per_s(model, 1, length, device),
        "many_bound": lambda: products_only_chars_per_s(model, 64, length, device),
    }
    return in_rounds(contenders, repeats), statistics.median(faults)


def minor_page_faults() -> int:
    if resource is None:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
