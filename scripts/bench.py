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

What is timed lives in bench_contenders.py, the sizes and steps of a run in bench_plan.py, and
the Markdown it writes in bench_report.py; this file measures, in that order, and writes.
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

import torch

from bench_contenders import (
    charnn_sampling_chars_per_s,
    charnn_training_chars_per_s,
    minimal_loop_chars_per_s,
    minor_page_faults,
    recurrent_core_chars_per_s,
    sampling_rounds,
)
from bench_plan import FULL, QUICK, Plan
from bench_report import Measured, report
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
from charnn.inference.evaluator import evaluate
from charnn.inference.stepper import Stepper
from charnn.model.network import CharRNN
from charnn.model.precision import autocast, keep_recurrence_out_of_float16
from charnn.model.simple_rnn import SimpleRNN
from charnn.platform.allocator import tune_malloc
from charnn.platform.compat import cpu_has_native_bf16
from charnn.training.loop import train
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
from stepper_bounds import multiply_adds_per_char

REPO_ROOT = Path(__file__).resolve().parent.parent


GATES = {"lstm": 4, "gru": 3, "rnn": 1}


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
                                plan.batch_size,
                                plan.seq_len,
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
                sampled, naive_faults = sampling_rounds(
                    model, checkpoint.vocab, plan.sample_length, plan.repeats, device
                )
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
    measured = Measured(
        gemms=[
            (name, max(before, after))
            for (name, before), (_, after) in zip(gemms_before, gemms_after, strict=True)
        ],
        train_cells=train_cells,
        sample_cells=sample_cells,
        speeds=speeds,
        bf16_rows=bf16_rows,
        rnn_rows=rnn_rows,
        allocator_rows=allocator_rows,
        native_bf16=native_bf16 if device.type == "cpu" else None,
    )
    return "\n".join(lines + report(measured, plan))


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
