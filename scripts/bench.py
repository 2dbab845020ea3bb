"""Measure charnn side by side with plain PyTorch, in one process, and write BENCHMARKS.md.

    python scripts/bench.py                      # the full run (a few minutes on 2 CPU cores)
    python scripts/bench.py --quick --out x.md   # a seconds-long smoke run (CI runs this)

Every number comes from this run on this machine:

1. Training throughput (chars/s) of each cell at two sizes through charnn's own trainer
   (`charnn.training.loop.train`, with its data windows, schedule, metrics, progress and the
   per-step finiteness check), against a minimal hand-written loop with the same model, batch,
   optimizer and clipping. The two are timed side by side in rounds, and their ratio is the
   median of the rounds' ratios (`reporting.in_rounds`), as is every ratio below.
2. The same throughput as model FLOP utilisation: 6 * N useful FLOPs per character, N = sum over
   layers of G * H * (I + H) plus H * V for the head (G = 4 LSTM, 3 GRU, 1 RNN), over the best
   matrix-multiply throughput measured here (several shapes, the model's own among them).
3. Eval throughput (state carried, no Python work per character), and sampling throughput with
   one stream and 64 streams, against a naive loop (model on one char, softmax, multinomial).
4. Peak memory of each: on CPU the peak resident memory of a fresh process that does only that
   (Linux's VmHWM, less what the process held before it started), so that no measurement
   inherits another's freed-but-kept memory and no sampling thread slows the timed runs; on
   CUDA the peak of torch's allocator.
5. What charnn's allocator tuning (`charnn.platform.allocator`, which training applies and so
   does this script) is worth: the minimal training loop in fresh processes with glibc's default
   malloc settings and with the tuning, chars/s and page faults per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
)
from charnn.data.corpus import encode_corpus
from charnn.data.sources import load_corpus
from charnn.inference import stepper as stepper_module
from charnn.inference.evaluator import evaluate
from charnn.inference.sampler import SamplingOptions, generate
from charnn.inference.stepper import Stepper
from charnn.model.network import CharRNN, detach_hidden
from charnn.model.precision import autocast, keep_recurrence_out_of_float16
from charnn.model.simple_rnn import SimpleRNN
from charnn.platform.allocator import tune_malloc
from charnn.platform.compat import cpu_has_native_bf16
from charnn.training.loop import train
from charnn.training.step import build_optimizer
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
from stepper_bounds import multiply_adds_per_char, run_products

REPO_ROOT = Path(__file__).resolve().parent.parent


GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclasses.dataclass(frozen=True)
class Plan:
    sizes: tuple[tuple[int, int], ...]  # (layers, hidden)
    batch_size: int
    seq_len: int
    train_steps: dict[int, int]  # hidden size -> steps per timing
    train_repeats: int  # training timings: short, so more of them than `repeats`
    repeats: int
    gemm_shapes: tuple[tuple[int, int, int], ...]
    sample_length: int
    eval_chars: int


FULL = Plan(
    sizes=((2, 256), (2, 512)),
    batch_size=32,
    seq_len=64,
    # Short timings in many rounds: this machine's speed shifts by a quarter within seconds,
    # so the two sides of a ratio are best timed close together, and its median taken over
    # many rounds (with 5 rounds of twice these steps, reruns of the tanh RNN's charnn/minimal
    # at 2x256 gave medians from 0.905 to 1.01).
    train_steps={256: 60, 512: 20},
    train_repeats=9,
    repeats=3,
    gemm_shapes=((1024, 1024, 1024), (2048, 2048, 2048)),
    sample_length=400,
    eval_chars=100_000,
)
QUICK = Plan(
    sizes=((1, 32),),
    batch_size=4,
    seq_len=16,
    train_steps={32: 3},
    train_repeats=1,
    repeats=1,
    gemm_shapes=((128, 128, 128),),
    sample_length=10,
    eval_chars=2_000,
)


# -- measuring ----------------------------------------------------------------------------------


def peak_memory_bytes(phase: str, config: RunConfig, plan: Plan) -> int:
    """Peak memory of one phase (`train`, `eval` or `sample`), measured apart from the timings."""
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        run_phase(phase, config, plan)
        return torch.cuda.max_memory_allocated(device) - start
    if not Path("/proc/self/clear_refs").exists():
        return 0  # not Linux: no number rather than a wrong one
    return int(child_output("--child-memory", phase, config, plan).split()[-1])


def child_output(flag: str, value: str, config: RunConfig, plan: Plan) -> str:
    """Run this script again in a fresh process for one measurement; its stdout."""
    child = [sys.executable, __file__, flag, value, "--child-config"]
    child += [json.dumps(config_to_dict(config))] + (["--quick"] if plan is QUICK else [])
    return subprocess.run(child, capture_output=True, text=True, check=True).stdout


def run_phase(phase: str, config: RunConfig, plan: Plan) -> None:
    corpus = load_corpus(config.data)
    vocab, splits = encode_corpus(corpus.text, val_fraction=0.1, test_fraction=0.0)
    device = torch.device(config.device)
    if phase == "train":
        train(config, overwrite=True)
        return
    model = CharRNN(config.model, len(vocab)).to(device).eval()
    if phase == "eval":
        evaluate(model, splits.val[: plan.eval_chars].to(device))
    else:
        charnn_sampling_chars_per_s(model, vocab, 64, plan.sample_length)


def child_memory(phase: str, config_json: str, plan: Plan) -> None:
    """In a fresh process: set up, then report the peak resident memory the phase added."""
    config = config_from_dict(json.loads(config_json))
    load_corpus(config.data)  # warm the file cache and the imports before the baseline
    resident = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    run_phase(phase, config, plan)
    print((_status_kib("VmHWM") - resident) * 1024)


def allocator_comparison(config: RunConfig, plan: Plan) -> tuple[Rounds, dict[str, float]]:
    """The minimal loop's chars/s with glibc's `default` malloc settings and charnn's `tuned`
    ones, each run in a fresh process (malloc settings are the whole process's), in
    `plan.repeats` rounds; and each mode's median page faults per step."""
    faults: dict[str, list[float]] = {"default": [], "tuned": []}

    def run_child(mode: str) -> float:
        speed, faults_per_step = child_output("--child-allocator", mode, config, plan).split()[-2:]
        faults[mode].append(float(faults_per_step))
        return float(speed)

    rounds = in_rounds({mode: functools.partial(run_child, mode) for mode in faults}, plan.repeats)
    return rounds, {mode: statistics.median(counts) for mode, counts in faults.items()}


def child_allocator(mode: str, config_json: str, plan: Plan) -> None:
    """In a fresh process: the minimal loop's chars/s and page faults per step."""
    if mode == "tuned" and not tune_malloc():
        sys.exit("the allocator tuning does not apply here (not glibc?)")
    config = config_from_dict(json.loads(config_json))
    corpus = load_corpus(config.data)
    vocab, splits = encode_corpus(corpus.text, val_fraction=0.1, test_fraction=0.0)
    device, steps = torch.device(config.device), config.train.max_steps
    minimal_loop_chars_per_s(config, splits.train, len(vocab), 2, device)  # oneDNN's setup
    before = minor_page_faults()
    speed = minimal_loop_chars_per_s(config, splits.train, len(vocab), steps, device)
    print(speed, (minor_page_faults() - before) / steps)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def mib(count: int) -> str:
    return f"{count / 2**20:,.1f}"


def best_gemm_flops(
    shapes: tuple[tuple[int, int, int], ...], device: torch.device
) -> list[tuple[str, float]]:
    """FLOP/s of (m x k) @ (k x n) for each shape, best of a few runs."""
    results = []
    for m, k, n in shapes:
        a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(5):
            synchronize(device)
            started = time.perf_counter()
            torch.mm(a, b)
            synchronize(device)
            best = min(best, time.perf_counter() - started)
        results.append((f"{m}x{k} @ {k}x{n}", 2 * m * k * n / best))
    return results


def flops_per_char(cell: str, layers: int, hidden: int, embedding: int, vocab: int) -> int:
    """6 N: forward and backward of the model's multiply-adds, per character."""
    gates = GATES[cell]
    matrix_params = sum(
        gates * hidden * ((embedding if layer == 0 else hidden) + hidden) for layer in range(layers)
    )
    return 6 * (matrix_params + hidden * vocab)


# -- the contenders -----------------------------------------------------------------------------


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
    plan: Plan,
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
    shape = (plan.batch_size, plan.seq_len)
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
    return steps * plan.batch_size * plan.seq_len / (time.perf_counter() - started)


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
    model: CharRNN, vocab: object, plan: Plan, device: torch.device
) -> tuple[Rounds, float]:
    """The chars/s of the `naive` loop, charnn's generator with `one` stream and with `many`
    (64), the generator with one stream whose products are not split across threads
    (`one_unsplit`), and the products alone with one and 64 streams (`one_bound`,
    `many_bound`), in `plan.repeats` rounds; and the naive loop's median page faults per
    character."""
    length, faults = plan.sample_length, []

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
    return in_rounds(contenders, plan.repeats), statistics.median(faults)


def minor_page_faults() -> int:
    if resource is None:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# -- the run ------------------------------------------------------------------------------------


def run(plan: Plan, data: DataConfig, device: torch.device, command: str) -> str:
    corpus = load_corpus(data)
    vocab, splits = encode_corpus(corpus.text, val_fraction=0.1, test_fraction=0.0)
    lines = [
        f"Measured on {machine(device)}, torch {torch.__version__}, Python "
        f"{platform.python_version()}, {torch.get_num_threads()} threads, with `{command}`.",
        "",
        f"Corpus: {corpus.name} ({len(corpus.text):,} chars, vocabulary {len(vocab)}); "
        f"batch {plan.batch_size} x seq_len {plan.seq_len}, embedding 64, AdamW with clipping.",
        "",
    ]
    gemm_shapes = plan.gemm_shapes + model_gemm_shapes(plan)
    # Measured before and after everything else, best of both: on a shared machine a slow
    # patch at one moment would otherwise lower the denominator and inflate every utilisation.
    gemms_before = best_gemm_flops(gemm_shapes, device)

    train_cells: list[tuple[str, float, str]] = []  # row start, useful FLOP/s, row end
    sample_cells: list[tuple[str, float, str]] = []  # row start, naive FLOP/s, row end
    rnn_rows, allocator_rows, bf16_rows, speeds = [], [], [], {}
    compare_allocator = device.type == "cpu" and tune_malloc()  # False where it does not apply
    native_bf16 = cpu_has_native_bf16()
    with tempfile.TemporaryDirectory() as scratch:
        for layers, hidden in plan.sizes:
            for cell in ("lstm", "gru", "rnn"):
                config = RunConfig(
                    data=data,
                    model=ModelConfig(cell=cell, hidden_size=hidden, num_layers=layers),
                    train=TrainConfig(
                        batch_size=plan.batch_size,
                        seq_len=plan.seq_len,
                        max_steps=plan.train_steps[hidden],
                        eval_every=10**9,
                        warmup_steps=0,
                    ),
                    device=str(device),
                    out_dir=str(Path(scratch) / f"{cell}-{layers}x{hidden}"),
                )
                bf16_config = dataclasses.replace(
                    config,
                    train=dataclasses.replace(config.train, precision="bf16"),
                    out_dir=f"{config.out_dir}-bf16",
                )
                steps = plan.train_steps[hidden]
                trained = in_rounds(
                    {
                        "minimal": functools.partial(
                            minimal_loop_chars_per_s,
                            config,
                            splits.train,
                            len(vocab),
                            steps,
                            device,
                        ),
                        "charnn": functools.partial(charnn_training_chars_per_s, config),
                        "bf16": functools.partial(charnn_training_chars_per_s, bf16_config),
                    },
                    plan.train_repeats,
                )
                trained.log(f"{cell} {layers}x{hidden} training")
                minimal, ours = trained.median("minimal"), trained.median("charnn")
                speeds[(cell, hidden)] = ours
                core_dtype = bf16_core_dtype(config.model, len(vocab), device)
                bf16_rows.append(
                    f"| {CELL_NAMES[cell]} | {layers}x{hidden} | {ours:,.0f} | "
                    f"{trained.median('bf16'):,.0f} | **{trained.ratio('bf16', 'charnn'):.2f}** | "
                    f"{core_dtype} |"
                )
                if cell == "rnn":
                    cores = in_rounds(
                        {
                            name: functools.partial(
                                recurrent_core_chars_per_s,
                                core_class,
                                layers,
                                hidden,
                                plan,
                                len(vocab),
                                steps,
                                device,
                            )
                            for name, core_class in (
                                ("nn.RNN", torch.nn.RNN),
                                ("SimpleRNN", SimpleRNN),
                            )
                        },
                        plan.train_repeats,
                    )
                    cores.log(f"SimpleRNN and nn.RNN {layers}x{hidden}")
                    rnn_rows.append(
                        f"| {layers}x{hidden} | {cores.median('nn.RNN'):,.0f} | "
                        f"{cores.median('SimpleRNN'):,.0f} | "
                        f"**{cores.ratio('SimpleRNN', 'nn.RNN'):.2f}** |"
                    )
                if compare_allocator and hidden == plan.sizes[0][1]:
                    modes, faults = allocator_comparison(config, plan)
                    modes.log(f"{cell} {layers}x{hidden} allocator")
                    allocator_rows.append(
                        f"| {CELL_NAMES[cell]} | {layers}x{hidden} | "
                        f"{modes.median('default'):,.0f} | {faults['default']:,.0f} | "
                        f"{modes.median('tuned'):,.0f} | {faults['tuned']:,.0f} | "
                        f"**{modes.ratio('tuned', 'default'):.2f}** |"
                    )
                useful = flops_per_char(cell, layers, hidden, 64, len(vocab))
                checkpoint = load_checkpoint(Path(config.out_dir) / "last.pt")
                model = checkpoint.build_model(device)
                val_ids = splits.val[: plan.eval_chars].to(device)
                eval_speed = evaluate(model, val_ids).chars_per_s
                train_memory, eval_memory, sample_memory = (
                    peak_memory_bytes(phase, config, plan) for phase in ("train", "eval", "sample")
                )
                train_cells.append(
                    (
                        f"| {CELL_NAMES[cell]} | {layers}x{hidden} | {minimal:,.0f} | "
                        f"{ours:,.0f} | **{trained.ratio('charnn', 'minimal'):.3f}** | "
                        f"{trained.ratio_range('charnn', 'minimal')} |",
                        useful * ours,
                        f"| {mib(train_memory)} | {eval_speed:,.0f} | {mib(eval_memory)} |",
                    )
                )
                sampled, naive_faults = sampling_rounds(model, checkpoint.vocab, plan, device)
                sampled.log(f"{cell} {layers}x{hidden} sampling")
                naive = sampled.median("naive")
                with torch.inference_mode():
                    stepper = Stepper(model, model.zero_hidden(1))
                    step_flops = 2 * multiply_adds_per_char(stepper)
                sample_cells.append(
                    (
                        f"| {CELL_NAMES[cell]} | {layers}x{hidden} | {naive:,.0f} | "
                        f"{naive_faults:,.0f} | {sampled.median('one'):,.0f} | "
                        f"**{sampled.ratio('one', 'naive'):.1f}x** | "
                        f"{sampled.ratio('one_bound', 'naive'):.1f}x | "
                        f"{sampled.ratio('one', 'one_unsplit'):.2f}x | "
                        f"{sampled.median('many'):,.0f} | "
                        f"**{sampled.ratio('many', 'naive'):.1f}x** | "
                        f"{sampled.ratio('many_bound', 'naive'):.1f}x |",
                        step_flops * naive,  # the naive loop's speed in useful FLOP/s
                        f"| {mib(sample_memory)} |",
                    )
                )
    gemms_after = best_gemm_flops(gemm_shapes, device)
    gemms = [
        (name, max(before, after))
        for (name, before), (_, after) in zip(gemms_before, gemms_after, strict=True)
    ]
    peak_name, peak_flops = max(gemms, key=lambda item: item[1])
    train_rows = [f"{start} {useful / peak_flops:.1%} {end}" for start, useful, end in train_cells]
    sample_rows = [
        f"{start} {peak_flops / naive_flops:.1f}x {end}" for start, naive_flops, end in sample_cells
    ]
    lines += [
        "### Matrix-multiply throughput (the FLOP-utilisation denominator)",
        "",
        "Each product's best of 5 runs, measured at the start and at the end of this run; the "
        "better of the two is shown.",
        "",
        "| shape | GFLOP/s |",
        "|---|---:|",
        *(f"| {name} | {flops / 1e9:,.1f} |" for name, flops in gemms),
        "",
        f"Best: {peak_flops / 1e9:,.1f} GFLOP/s ({peak_name}).",
        "",
        "Every comparison below is timed in rounds: each contender runs once per round, in "
        "one order in even rounds and the reverse in odd ones. A speed shown is the median "
        "of its rounds; a ratio is the median of the rounds' ratios (each taken from timings "
        "a few seconds apart), so it need not equal the quotient of the two speeds shown.",
        "",
        "### Training and evaluation",
        "",
        "Training chars/s over "
        + ", ".join(
            f"{steps} steps at hidden {hidden}" for hidden, steps in plan.train_steps.items()
        )
        + f", in {plan.train_repeats} rounds; charnn / minimal is charnn's trainer over the "
        "hand-written loop (1.0 = no overhead), beside the lowest and highest of its rounds. "
        "Eval: the validation text scored as one stream.",
        "",
        "| cell | layers x hidden | minimal loop chars/s | charnn chars/s | charnn / minimal | "
        "rounds | FLOP utilisation | train peak MiB | eval chars/s | eval peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *train_rows,
        "",
        "GRU / LSTM training speed at equal size: "
        + ", ".join(
            f"{layers}x{hidden}: {speeds[('gru', hidden)] / speeds[('lstm', hidden)]:.2f}"
            for layers, hidden in plan.sizes
        )
        + ".",
        "",
        "### bf16 autocast",
        "",
        "charnn's trainer with `train.precision=bf16` beside fp32 (the charnn column above), "
        "timed in the same rounds. The weights stay fp32; the last column is the dtype "
        "the recurrent layers hand on under bf16 autocast, as the trainer finds it at the start "
        "of a run (where it would be float16, they run in fp32)."
        + (
            f" This CPU {'has' if native_bf16 else 'lacks'} bf16 arithmetic (oneDNN's check)."
            if device.type == "cpu" and native_bf16 is not None
            else ""
        ),
        "",
        "| cell | layers x hidden | fp32 chars/s | bf16 chars/s | bf16 / fp32 | recurrent "
        "layers' output |",
        "|---|---|---:|---:|---:|---|",
        *bf16_rows,
        "",
        "### SimpleRNN against nn.RNN",
        "",
        "Training chars/s of the same embedding, recurrent module and head in a hand-written "
        "loop, with `nn.RNN(nonlinearity='tanh')` or charnn's `SimpleRNN` as the module, "
        f"in {plan.train_repeats} rounds.",
        "",
        "| layers x hidden | nn.RNN chars/s | SimpleRNN chars/s | SimpleRNN / nn.RNN |",
        "|---|---:|---:|---:|",
        *rnn_rows,
        "",
        *(
            [
                "### The allocator",
                "",
                "The minimal loop in fresh processes, with glibc's default malloc settings and "
                "with charnn's tuning (`charnn.platform.allocator`, applied as training starts and "
                f"in this script's other measurements), in {plan.repeats} rounds.",
                "",
                "| cell | layers x hidden | default chars/s | page faults/step | tuned chars/s "
                "| page faults/step | tuned / default |",
                "|---|---|---:|---:|---:|---:|---:|",
                *allocator_rows,
                "",
            ]
            if allocator_rows
            else []
        ),
        "### Sampling",
        "",
        f"{plan.sample_length} characters per stream at temperature 0.8. Naive: the model called "
        "on one character at a time, then softmax and multinomial. charnn: `charnn sample`'s "
        "generator (the lean step of `charnn.inference.stepper`), with 1 stream and with 64 "
        "streams (total chars/s over all streams). Split: the one-stream generator with its "
        "products split across two threads (the default on a CPU) against the same generator "
        "without the split, end to end (1.00x when the run has one thread). Bound: the step's "
        "matrix products alone "
        "(`stepper_bounds.run_products`, the head's included) over the naive loop, the ratio "
        "sampling would reach if everything else in a step were free. At the peak rate: the "
        "same products' arithmetic (2 FLOPs for each of "
        "`stepper_bounds.multiply_adds_per_char`) at "
        "this run's best matrix-multiply rate, over the naive loop: a cap that only products "
        "faster than any measured here could lift, with the naive loop's median speed. "
        f"{plan.repeats} rounds; the page faults are the naive loop's median.",
        "",
        "| cell | layers x hidden | naive chars/s | naive page faults/char | charnn 1 stream | "
        "vs naive | bound | split | charnn 64 streams | vs naive | bound | at the peak rate | "
        "64-stream peak MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *sample_rows,
    ]
    return "\n".join(lines)


def bf16_core_dtype(model_config: ModelConfig, vocab_size: int, device: torch.device) -> str:
    """The dtype a bf16 run's recurrent layers hand on (the trainer's own check: fp32 where
    autocast would give float16)."""
    model = CharRNN(model_config, vocab_size).to(device)
    dtype = keep_recurrence_out_of_float16(model, autocast(device, "bf16"))
    return str(dtype).removeprefix("torch.")


def model_gemm_shapes(plan: Plan) -> tuple[tuple[int, int, int], ...]:
    """The products the models themselves run: a window's input projection, and one step's
    recurrent product (LSTM gate width)."""
    shapes = []
    for _, hidden in plan.sizes:
        shapes.append((plan.batch_size * plan.seq_len, hidden, 4 * hidden))
        shapes.append((plan.batch_size, hidden, 4 * hidden))
    return tuple(shapes)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--data", help="a text file (default: the offline pydoc-topics corpus)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)  # internal: one measurement
    parser.add_argument("--child-allocator", help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child_allocator:  # before the tuning below: one mode runs with glibc's defaults
        child_allocator(args.child_allocator, args.child_config, QUICK if args.quick else FULL)
        return
    tune_malloc()  # as the CLI does, so every figure below is what a charnn user gets
    if args.child_memory:
        child_memory(args.child_memory, args.child_config, QUICK if args.quick else FULL)
        return
    import logging

    logging.getLogger("charnn").setLevel(logging.WARNING)  # the trainer's own lines: not here
    data = DataConfig(path=str(Path(args.data).resolve())) if args.data else DataConfig()
    command = rerun_command(__file__, argv)
    device = torch.device(args.device)
    table = run(QUICK if args.quick else FULL, data, device, command)
    # One block per kind of device, so a CUDA run leaves the CPU table alone.
    block = "bench" if device.type == "cpu" else f"bench-{device.type}"
    replace_block(args.out, *markers(block), table)
    print(table)


if __name__ == "__main__":
    main()
