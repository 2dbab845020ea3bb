"""bench.py's report: the Markdown tables of one run's measurements, with the prose that says
how each was measured."""

from __future__ import annotations

import dataclasses

from bench_plan import Plan


@dataclasses.dataclass(frozen=True)
class Measured:
    """One run's measurements, row by row, as bench.py's loop over the cells gathers them."""

    gemms: list[tuple[str, float]]
    """Each matrix-multiply shape's best FLOP/s: the utilisation's denominator."""
    train_cells: list[tuple[str, float, str]]
    """Training rows: their start, the useful FLOP/s, their end."""
    sample_cells: list[tuple[str, float, str]]
    """Sampling rows: their start, the naive loop's useful FLOP/s, their end."""
    speeds: dict[tuple[str, int], float]
    """charnn's training chars/s by (cell, hidden size)."""
    bf16_rows: list[str]
    rnn_rows: list[str]
    allocator_rows: list[str]
    """Empty where the allocator tuning does not apply (not glibc, or a GPU)."""
    native_bf16: bool | None
    """Whether this CPU has bf16 arithmetic (None: unknown, or not a CPU run)."""


def report(measured: Measured, plan: Plan) -> list[str]:
    """The report's sections, line by line, after bench.py's header."""
    gemms, speeds, native_bf16 = measured.gemms, measured.speeds, measured.native_bf16
    peak_name, peak_flops = max(gemms, key=lambda item: item[1])
    train_rows = [
        f"{start} {useful / peak_flops:.1%} {end}" for start, useful, end in measured.train_cells
    ]
    sample_rows = [
        f"{start} {peak_flops / naive_flops:.1f}x {end}"
        for start, naive_flops, end in measured.sample_cells
    ]
    return [
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
            if native_bf16 is not None
            else ""
        ),
        "",
        "| cell | layers x hidden | fp32 chars/s | bf16 chars/s | bf16 / fp32 | recurrent "
        "layers' output |",
        "|---|---|---:|---:|---:|---|",
        *measured.bf16_rows,
        "",
        "### SimpleRNN against nn.RNN",
        "",
        "Training chars/s of the same embedding, recurrent module and head in a hand-written "
        "loop, with `nn.RNN(nonlinearity='tanh')` or charnn's `SimpleRNN` as the module, "
        f"in {plan.train_repeats} rounds.",
        "",
        "| layers x hidden | nn.RNN chars/s | SimpleRNN chars/s | SimpleRNN / nn.RNN |",
        "|---|---:|---:|---:|",
        *measured.rnn_rows,
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
                *measured.allocator_rows,
                "",
            ]
            if measured.allocator_rows
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
