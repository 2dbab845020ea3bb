"""Does `torch.compile` make charnn's training or sampling faster? Eager and compiled, side by side.

    python scripts/compile_check.py [--device cpu|cuda] [--data FILE] [--out FILE]
    python scripts/compile_check.py --quick --backend eager --out x.md   # a smoke run

For each cell (LSTM, GRU, tanh RNN) at 2x256, batch 32 x seq_len 64: charnn's own training step
(`charnn.training.loop.train_step`: forward, loss, backward, clipping, AdamW) on the model as it
is and compiled as `train.compile: true` compiles it (`charnn.platform.device.compile_model`),
in one process:

- how many graphs TorchDynamo captures from the model's forward, with its default settings and
  with `torch._dynamo.config.allow_rnn` on (0: it runs the whole forward eagerly, so compiling
  cannot change its speed). By default it does not trace PyTorch's RNN modules;
- the compiled model is timed as `train.compile` runs it: with `allow_rnn` on during its calls,
  the setting under which compiling can change an LSTM's or a GRU's speed at all;
- the seconds the first three steps take (the compiled model's include compiling it). Inductor
  keeps what it compiles in an on-disk cache, which makes later compiles of the same graphs
  quicker; the script compiles into a new, empty cache, so the figure is what a first run
  pays, the same on every rerun (`--warm-cache`: use Inductor's usual cache instead);
- chars/s after that, the two timed in rounds (`reporting.in_rounds`): the median of each
  side's rounds, and the median of the rounds' ratios beside the lowest and highest;
- the largest difference between the two models' losses over the first steps (they start from
  the same weights and see the same batches, so it should be float rounding).

Then the same question for sampling: for each cell, with 1 and with 64 streams, `charnn
sample`'s lean step (`charnn.inference.stepper.Stepper`, with the noise and the temperature
folded into its head as the sampler does) against the whole model called on one character per
stream, compiled the same way, each followed by the same argmax over the same Gumbel noise:

- chars/s of each, timed in rounds in the same way, after the compiled step's first call
  (whose seconds, compiling included, are shown);
- the largest difference between the two steps' noisy logits over the first steps, fed the same
  characters from the same state (float rounding: both compute the model's function).

Writes both tables into BENCHMARKS.md between the `compile-DEVICE` markers (`compile-cpu`,
`compile-cuda`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

from charnn.config import DataConfig, ModelConfig, TrainConfig
from charnn.data.corpus import encode_corpus
from charnn.data.sources import load_corpus
from charnn.inference.sampler import gumbel
from charnn.inference.stepper import Stepper
from charnn.model.network import CharRNN, Hidden
from charnn.platform.allocator import tune_malloc
from charnn.platform.compile import compile_model
from charnn.training.step import build_optimizer, train_step
from charnn.training.task import NEXT_CHARACTER, Batch
from reporting import (
    CELL_NAMES,
    Rounds,
    cpu_name,
    in_rounds,
    markers,
    replace_block,
    rerun_command,
    synchronize,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRST_STEPS = 3


@dataclasses.dataclass(frozen=True)
class Plan:
    layers: int
    hidden: int
    batch_size: int
    seq_len: int
    steps: int  # per timing
    repeats: int
    sample_steps: int  # characters per stream per sampling timing


FULL = Plan(layers=2, hidden=256, batch_size=32, seq_len=64, steps=40, repeats=5, sample_steps=400)
QUICK = Plan(layers=1, hidden=32, batch_size=4, seq_len=16, steps=3, repeats=1, sample_steps=5)
SAMPLE_STREAMS = (1, 64)
TEMPERATURE = 0.8


class Trainee:
    """One model, its optimizer and its carried state, stepping through the same batches as
    the other."""

    def __init__(self, model: torch.nn.Module, source: CharRNN, device: torch.device) -> None:
        self.model = model
        self.optimizer = build_optimizer(source, TrainConfig(), device)
        self.hidden: Hidden | None = None
        self.losses: list[float] = []
        self.position = 0
        """The next window to step through."""

    def step(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        result = train_step(
            self.model, self.optimizer, Batch(inputs, targets), self.hidden,
            objective=NEXT_CHARACTER, grad_clip=1.0, precision="fp32",
        )  # fmt: skip
        self.hidden = result.hidden
        return result.loss

    def chars_per_s(self, windows: list[torch.Tensor], steps: int, device: torch.device) -> float:
        """Step through the next `steps` windows, timed."""
        chosen = [windows[(self.position + k) % len(windows)] for k in range(steps)]
        self.position += steps
        synchronize(device)
        started = time.perf_counter()
        for window in chosen:
            loss = self.step(window[:, :-1], window[:, 1:])
        loss.item()
        synchronize(device)
        seconds = time.perf_counter() - started
        return sum(window[:, :-1].numel() for window in chosen) / seconds


def batches(ids: torch.Tensor, plan: Plan, device: torch.device) -> list[torch.Tensor]:
    """(B, T + 1) windows of the text, one per step, each stream a contiguous part of it."""
    columns = len(ids) // plan.batch_size
    streams = ids[: plan.batch_size * columns].view(plan.batch_size, columns).to(device)
    count = (columns - 1) // plan.seq_len
    return [
        streams[:, k * plan.seq_len : (k + 1) * plan.seq_len + 1] for k in range(count)
    ]  # each (B, T + 1)


def compare(cell: str, ids: torch.Tensor, vocab_size: int, plan: Plan, device: torch.device,
            backend: str) -> str:  # fmt: skip
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=plan.hidden, num_layers=plan.layers)
    eager_model = CharRNN(config, vocab_size).to(device)
    compiled_source = copy.deepcopy(eager_model)
    windows = batches(ids, plan, device)
    graphs = []
    for allow_rnn in (False, True):
        with torch._dynamo.config.patch(allow_rnn=allow_rnn):
            explained = torch._dynamo.explain(compiled_source)(windows[0][:, :-1])
        graphs.append(explained.graph_count)
        torch._dynamo.reset()  # the timed model compiles from scratch
    compiled_model = compile_model(compiled_source, backend)
    eager = Trainee(eager_model, eager_model, device)
    compiled = Trainee(compiled_model, compiled_source, device)

    first_seconds = {}
    for trainee, name in ((eager, "eager"), (compiled, "compiled")):
        synchronize(device)
        started = time.perf_counter()
        for window in windows[:FIRST_STEPS]:
            trainee.losses.append(trainee.step(window[:, :-1], window[:, 1:]).item())
        first_seconds[name] = time.perf_counter() - started
    largest_difference = max(
        abs(mine - theirs) for mine, theirs in zip(eager.losses, compiled.losses, strict=True)
    )
    for trainee in (eager, compiled):
        trainee.position = FIRST_STEPS
    rounds = in_rounds(
        {
            "eager": functools.partial(eager.chars_per_s, windows, plan.steps, device),
            "compiled": functools.partial(compiled.chars_per_s, windows, plan.steps, device),
        },
        plan.repeats,
    )
    rounds.log(f"{cell} {plan.layers}x{plan.hidden} training")
    return (
        f"| {CELL_NAMES[cell]} | {plan.layers}x{plan.hidden} | {graphs[0]} | {graphs[1]} | "
        f"{rounds.median('eager'):,.0f} | {rounds.median('compiled'):,.0f} | "
        f"**{rounds.ratio('compiled', 'eager'):.2f}** | "
        f"{rounds.ratio_range('compiled', 'eager')} | "
        f"{first_seconds['eager']:.2f} | {first_seconds['compiled']:.2f} | "
        f"{largest_difference:.1e} |"
    )


class NoisyStep(torch.nn.Module):
    """The whole model on one character per stream, as a compiled sampler would run it:
    ids (N,) -> logits / temperature + noise (N, V), and the new state."""

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, ids: torch.Tensor, hidden: Hidden, noise: torch.Tensor
    ) -> tuple[torch.Tensor, Hidden]:
        logits, hidden = self.model(ids.unsqueeze(1), hidden)  # (N, 1, V)
        return logits[:, 0] / TEMPERATURE + noise, hidden


def compare_sampling(
    cell: str, vocab_size: int, plan: Plan, device: torch.device, backend: str
) -> list[str]:
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=plan.hidden, num_layers=plan.layers)
    model = CharRNN(config, vocab_size).to(device).eval()
    rows = []
    for streams in SAMPLE_STREAMS:
        torch._dynamo.reset()  # each stream count compiles from scratch, for its own shapes
        with torch.inference_mode():
            rounds, first_seconds, difference = time_sampling_steps(
                model, streams, plan, device, backend
            )
        rows.append(
            f"| {CELL_NAMES[cell]} | {plan.layers}x{plan.hidden} | {streams} | "
            f"{rounds.median('lean'):,.0f} | {rounds.median('compiled'):,.0f} | "
            f"**{rounds.ratio('compiled', 'lean'):.2f}** | "
            f"{rounds.ratio_range('compiled', 'lean')} | "
            f"{first_seconds:.2f} | {difference:.1e} |"
        )
    torch._dynamo.reset()
    return rows


def time_sampling_steps(
    model: CharRNN, streams: int, plan: Plan, device: torch.device, backend: str
) -> tuple[Rounds, float, float]:
    """The lean and the compiled step's chars/s in rounds, the compiled step's first call in
    seconds, and the largest difference between their noisy logits over the first steps."""
    generator = torch.Generator(device=device).manual_seed(0)
    shape = (plan.sample_steps, streams, model.vocab_size)
    noise = gumbel(shape, generator, device).float()  # (S, N, V)
    lean = Stepper(model, model.zero_hidden(streams), logit_scale=1 / TEMPERATURE)
    lean_bias = lean.head_bias + noise  # (S, N, V): as the sampler folds the noise in
    compiled = compile_model(NoisyStep(model), backend)
    hidden = model.zero_hidden(streams)
    ids = torch.zeros(streams, dtype=torch.long, device=device)

    # The first steps: the same characters into both, from the same state.
    difference, first_seconds = 0.0, 0.0
    for step in range(min(FIRST_STEPS, plan.sample_steps)):
        lean_logits = lean.step(ids, head_bias=lean_bias[step])
        synchronize(device)
        started = time.perf_counter()
        compiled_logits, hidden = compiled(ids, hidden, noise[step])
        synchronize(device)
        if step == 0:
            first_seconds = time.perf_counter() - started
        difference = max(difference, (lean_logits - compiled_logits).abs().max().item())
        ids = lean_logits.argmax(dim=-1)

    def lean_chars_per_s() -> float:
        next_ids = ids
        synchronize(device)
        started = time.perf_counter()
        for step in range(plan.sample_steps):
            next_ids = lean.step(next_ids, head_bias=lean_bias[step]).argmax(dim=-1)
        synchronize(device)
        return streams * plan.sample_steps / (time.perf_counter() - started)

    def compiled_chars_per_s() -> float:  # each timing from where the first steps left off
        next_ids, state = ids, hidden
        synchronize(device)
        started = time.perf_counter()
        for step in range(plan.sample_steps):
            logits, state = compiled(next_ids, state, noise[step])
            next_ids = logits.argmax(dim=-1)
        synchronize(device)
        return streams * plan.sample_steps / (time.perf_counter() - started)

    rounds = in_rounds({"lean": lean_chars_per_s, "compiled": compiled_chars_per_s}, plan.repeats)
    rounds.log(f"{model.config.cell} {streams}-stream sampling")  # as compare() names cells
    return rounds, first_seconds, difference


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny model: a smoke test")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", help="a text file (default: the offline pydoc-topics corpus)")
    parser.add_argument("--backend", default="inductor", help="torch.compile's backend")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--warm-cache", action="store_true", help="use Inductor's usual on-disk cache"
    )
    args = parser.parse_args(argv)
    if args.warm_cache:
        run(args, argv)
        return
    with (
        tempfile.TemporaryDirectory(prefix="charnn-inductor-") as empty_cache,
        # Read when Inductor first compiles; the environment is restored afterwards.
        mock.patch.dict(os.environ, {"TORCHINDUCTOR_CACHE_DIR": empty_cache}),
    ):
        run(args, argv)


def run(args: argparse.Namespace, argv: list[str] | None) -> None:
    tune_malloc()  # as the CLI does
    device = torch.device(args.device)
    plan = QUICK if args.quick else FULL
    data = DataConfig(path=str(Path(args.data).resolve())) if args.data else DataConfig()
    vocab, splits = encode_corpus(load_corpus(data).text, val_fraction=0.1, test_fraction=0.0)
    rows = [
        compare(cell, splits.train, len(vocab), plan, device, args.backend)
        for cell in ("lstm", "gru", "rnn")
    ]
    sampling_rows = [
        row
        for cell in ("lstm", "gru", "rnn")
        for row in compare_sampling(cell, len(vocab), plan, device, args.backend)
    ]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    lines = [
        f"Measured on {where}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"backend {args.backend} ({'its usual' if args.warm_cache else 'an empty'} on-disk "
        f"cache at start), with `{rerun_command(__file__, argv)}`. Batch "
        f"{plan.batch_size} x seq_len {plan.seq_len}, fp32, charnn's training step; "
        f"{plan.steps} steps per timing, in {plan.repeats} rounds: speeds are medians, ratios "
        "the median of the rounds' ratios, beside their lowest and highest round.",
        "",
        "| cell | layers x hidden | graphs captured | graphs with allow_rnn | eager chars/s | "
        "compiled chars/s (allow_rnn) | compiled / eager | rounds | first 3 steps, eager (s) | "
        "first 3 steps, compiled (s) | largest loss difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Sampling: {plan.sample_steps} characters per stream per timing at temperature "
        f"{TEMPERATURE}, in {plan.repeats} rounds likewise; the lean step is `charnn "
        "sample`'s, the compiled step the whole model on one character per stream, compiled as "
        "`train.compile` compiles it; both followed by the same argmax over the same noise.",
        "",
        "| cell | layers x hidden | streams | lean step chars/s | compiled step chars/s | "
        "compiled / lean | rounds | first compiled step (s) | largest logit difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *sampling_rows,
    ]
    table = "\n".join(lines)
    replace_block(args.out, *markers(f"compile-{device.type}"), table)
    print(table)


if __name__ == "__main__":
    main()
