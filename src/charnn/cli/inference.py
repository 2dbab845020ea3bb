"""Using a trained model: `charnn sample`, `charnn eval` and `charnn predict`."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from charnn.cli.app import user_errors
from charnn.cli.options import (
    SAMPLING,
    SCORING,
    DeviceOption,
    ReplaceWithOption,
    UnknownCharsOption,
    choices,
)
from charnn.cli.rendering import classify_table, print_samples
from charnn.config import DECODE_ERRORS
from charnn.errors import CharnnError
from charnn.inference.options import EVAL_SPLITS

commands = typer.Typer()
"""This family's commands; charnn.cli adds them to the app."""


@commands.command(
    epilog="Examples:  charnn sample runs/default  |  "
    "charnn sample runs/x --prime 'ROMEO:' --length 1000 --seed 1"
)
def sample(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (samples from its best.pt) or a checkpoint file.",
            show_default=False,
        ),
    ],
    prime: Annotated[
        str, typer.Option("--prime", help="Text to start from; it is printed first.")
    ] = "",
    length: Annotated[
        int, typer.Option("--length", help="Characters to generate after the prime.")
    ] = SAMPLING.length,
    temperature: Annotated[
        float,
        typer.Option(
            "--temperature", help="Below 1: safer, above 1: wilder; 0: always the most likely."
        ),
    ] = SAMPLING.temperature,
    top_k: Annotated[
        int, typer.Option("--top-k", help="Draw only from the K most likely characters (0: off).")
    ] = SAMPLING.top_k,
    top_p: Annotated[
        float,
        typer.Option(
            "--top-p",
            help="Draw only from the most likely characters holding P of the probability (1: off).",
        ),
    ] = SAMPLING.top_p,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Random seed; the same seed gives the same text. Default: random, printed.",
            show_default=False,
        ),
    ] = SAMPLING.seed,
    num_samples: Annotated[
        int,
        typer.Option(
            "--num-samples",
            help="How many samples to generate (in one batch). Sample k uses seed S + k - 1: "
            "the text --seed S+k-1 gives alone.",
        ),
    ] = SAMPLING.num_samples,
    unknown_chars: UnknownCharsOption = SAMPLING.unknown_chars,
    replace_with: ReplaceWithOption = SAMPLING.replace_with,
    device: DeviceOption = None,
) -> None:
    """Generate text from a language model, streamed to stdout.

    The text is printed as it is made, the prime first."""
    with user_errors():
        from charnn.api import load_model

        model = load_model(run, device=device or "auto")
        if model.classifies:
            raise CharnnError(
                f"{model.path} is a classifier (task: classify): it labels texts rather than "
                f"generating them; use charnn predict {run} TEXT"
            )
        chosen_seed = seed if seed is not None else int(time.time_ns() % 2**31)
        # The prime the model reads is the one printed, so the output is what it continued.
        prime, steps = model.stream(
            prime,
            length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=chosen_seed,
            num_samples=num_samples,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
        )
        if seed is None and temperature > 0:  # greedy text does not depend on a seed
            again = "this text" if num_samples == 1 else "these samples"
            typer.echo(
                f"seed {chosen_seed} (pass --seed {chosen_seed} to get {again} again)", err=True
            )
        print_samples(steps, prime=prime, num_samples=num_samples)


@commands.command(
    name="eval",
    epilog="Examples:  charnn eval runs/default  |  charnn eval runs/x --split test --json  |  "
    "charnn eval runs/x --window 64  |  "
    "charnn eval runs/x --file other.txt",
)
def eval_(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (scores its best.pt) or a checkpoint file.", show_default=False
        ),
    ],
    split: Annotated[
        str,
        typer.Option(
            "--split",
            help="Which part of the run's own data to score: val or test (held out), or train.",
            autocompletion=choices(EVAL_SPLITS),
        ),
    ] = SCORING.split,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "--text-file",
            help="Score this file instead of a split: text for a language model; labelled "
            "examples for a classifier (as its data.path: .tsv, .jsonl, ... or .npz).",
            show_default=False,
        ),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="The encoding of a text --file, e.g. latin-1.")
    ] = SCORING.encoding,
    errors: Annotated[
        str,
        typer.Option(
            "--errors",
            autocompletion=choices(DECODE_ERRORS),
            help="Bytes of a text --file not valid in its encoding: strict (stop), replace "
            "(with U+FFFD) or ignore (drop them).",
        ),
    ] = SCORING.errors,
    unknown_chars: UnknownCharsOption = SCORING.unknown_chars,
    replace_with: ReplaceWithOption = SCORING.replace_with,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Score in independent windows of N characters, each from a fresh state (how a "
            "model with a context of N is scored). Default: the state is carried throughout.",
            show_default=False,
        ),
    ] = SCORING.window,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    device: DeviceOption = None,
) -> None:
    """Score a model on its held-out split or on any text.

    A language model: loss (nats/char), bits/char, perplexity; the hidden state is carried
    throughout. A classifier: loss, accuracy, macro-F1, per-class scores and the confusion
    matrix."""
    with user_errors():
        from charnn.api import load_model
        from charnn.inference.classifier import ClassifyResult

        model = load_model(run, device=device or "auto")
        if model.classifies and window is not None:
            raise CharnnError(
                f"{model.path} is a classifier (task: classify): it reads each example whole, "
                "so --window does not apply; drop it"
            )
        if file is not None:
            result = model.score_file(
                file,
                encoding=encoding,
                errors=errors,
                unknown_chars=unknown_chars,
                replace_with=replace_with,
                window=window,
                progress=True,
            )
        else:
            result = model.score_split(split, window=window, progress=True)
        path, checkpoint = model.path, model.checkpoint
        scored = str(file) if file is not None else f"{split} split"
        if isinstance(result, ClassifyResult):
            # best.pt is the evaluation with the best val accuracy: on that split its figures
            # are chosen, not measured.
            selected_by = "val accuracy on the val split" if path.name == "best.pt" else None
            if as_json:
                record = {
                    **result.to_dict(),
                    "text": scored,
                    "checkpoint": str(path),
                    "step": checkpoint.step,
                    "selected_by": selected_by,
                }
                typer.echo(json.dumps(record))
            else:
                chosen = f"; chosen by its {selected_by}" if selected_by else ""
                typer.echo(f"{scored} scored by {path} (step {checkpoint.step}{chosen})")
                if selected_by and file is None and split == "val":
                    typer.echo(
                        "  (figures on the split that chose the checkpoint flatter it; "
                        "--split test or --file give held-out ones)"
                    )
                typer.echo(classify_table(result))
            return
        if window is not None:
            scored += f" in windows of {window} characters"
        if as_json:
            record = {
                **result.to_dict(),
                "text": scored,
                "checkpoint": str(path),
                "step": checkpoint.step,
                "window": window,
            }
            typer.echo(json.dumps(record))
            return
        typer.echo(f"{scored} scored by {path} (step {checkpoint.step})")
        typer.echo(f"  loss        {result.loss:.4f} nats/char")
        typer.echo(f"  bits/char   {result.bpc:.4f}")
        typer.echo(f"  perplexity  {result.perplexity:.3f}")
        typer.echo(f"  chars       {result.chars:,}")
        typer.echo(f"  speed       {result.chars_per_s:,.0f} chars/s ({result.seconds:.2f}s)")


@commands.command(
    epilog="Examples:  charnn predict runs/names Satoshi Dvorak  |  "
    "charnn predict runs/names --file names.txt --top-k 3 --json  |  "
    "cat names.txt | charnn predict runs/names --file -  |  "
    "charnn predict runs/mnist-rows --file rows.npz"
)
def predict(
    run: Annotated[
        Path,
        typer.Argument(
            help="A classify run directory (its best.pt) or a checkpoint file.",
            show_default=False,
        ),
    ],
    texts: Annotated[
        list[str] | None,
        typer.Argument(help="Texts to classify.", show_default=False),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help="Classify each line of this file (- reads stdin). Lines of a labelled file "
            "(.tsv, .jsonl) are read as their text; their labels are ignored. A classifier of "
            "sequences of numbers: each sequence of an .npz file's x (with its lengths).",
            show_default=False,
        ),
    ] = None,
    top_k: Annotated[
        int, typer.Option("--top-k", help="Print the K likeliest labels of each text.")
    ] = 1,
    unknown_chars: UnknownCharsOption = SCORING.unknown_chars,
    replace_with: ReplaceWithOption = SCORING.replace_with,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object a text instead of a line."),
    ] = False,
    device: DeviceOption = None,
) -> None:
    """Label texts or sequences of numbers: the likeliest labels.

    Each text's top labels are printed with their probabilities."""
    with user_errors():
        from charnn.api import load_model

        model = load_model(run, device=device or "auto")
        if not model.classifies:
            raise CharnnError(
                f"{model.path} is a language model (task: lm): it has no labels to predict; "
                f"generate with charnn sample {run}, or train a classifier with --set task=classify"
            )
        started = time.perf_counter()
        shown: list[str] | list[int]
        if model.checkpoint.reads_values:
            shown, predictions = _predict_sequences(model, texts, file, top_k)
        else:
            shown = _texts(texts, file)
            predictions = model.classify(
                shown, top_k=top_k, unknown_chars=unknown_chars, replace_with=replace_with
            )
        seconds = time.perf_counter() - started
        out = sys.stdout
        for text, labels in zip(shown, predictions, strict=True):
            if as_json:
                record = {"text": text, "labels": [[label, p] for label, p in labels]}
                if isinstance(text, int):
                    record = {"row": text, "labels": record["labels"]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                ranked = "  ".join(f"{label} {p:.3f}" for label, p in labels)
                out.write(f"{ranked}\t{text}\n")
        out.flush()
        rate = len(shown) / seconds if seconds > 0 else 0.0
        logging.getLogger("charnn").info(
            "classified %d %s in %.2fs (%s examples/s)",
            len(shown),
            "sequence(s)" if model.checkpoint.reads_values else "text(s)",
            seconds,
            f"{rate:,.0f}",
        )


def _texts(texts: list[str] | None, file: str | None) -> list[str]:
    from charnn.data.labelled import read_prediction_lines

    all_texts = list(texts or [])
    if file is not None:
        all_texts += read_prediction_lines(file, sys.stdin)
    if not all_texts:
        raise CharnnError(
            "nothing to classify; give texts as arguments, or --file FILE (- for stdin)"
        )
    return all_texts


def _predict_sequences(
    model: Any, texts: list[str] | None, file: str | None, top_k: int
) -> tuple[list[int], list[list[tuple[str, float]]]]:
    """(each sequence's row in the file, its predictions) for a classifier of sequences."""
    from charnn.inference.sequences import NPZ_LAYOUT, unlabelled_sequences

    if texts or file is None or file == "-":
        raise CharnnError(
            f"{model.path} classifies sequences of numbers, not texts; give them as --file "
            f"FILE.npz ({NPZ_LAYOUT})"
        )
    sequences = unlabelled_sequences(Path(file), model.checkpoint)
    return list(range(len(sequences))), model.classify(sequences, top_k=top_k)
