"""The `charnn` command: train, sample, eval, predict.

Commands parse their options, resolve the config, call one library function and print. Every
`CharnnError` becomes one line on stderr and a non-zero exit code (2 for user errors) without a
traceback. torch-heavy modules are imported inside the commands so `charnn --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charnn.artifacts.export.formats import FILE_NAMES
from charnn.config import DECODE_ERRORS, DEVICE_CHOICES, known_keys
from charnn.errors import CharnnError, python_spelling
from charnn.inference.options import (
    EVAL_SPLITS,
    UNKNOWN_CHAR_POLICIES,
    EvalOptions,
    SamplingOptions,
)
from charnn.version import __version__

if TYPE_CHECKING:  # torch-heavy: the commands import it when they run
    from charnn.inference.classifier import ClassifyResult

app = typer.Typer(
    name="charnn",
    help="Character-level recurrent networks (LSTM, GRU, tanh RNN): train language models "
    "to sample and score text, or classifiers to label it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _ConsoleHandler(logging.Handler):
    """Writes log lines to whatever sys.stderr is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _setup_logging() -> None:
    package_logger = logging.getLogger("charnn")
    if not any(isinstance(handler, _ConsoleHandler) for handler in package_logger.handlers):
        handler = _ConsoleHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)


def _version_callback(value: bool) -> None:
    if value:
        try:
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            torch_version = "not installed"
        typer.echo(f"charnn {__version__} (torch {torch_version}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    _setup_logging()


@contextmanager
def _user_errors() -> Iterator[None]:
    """Map charnn's user errors to one stderr line and an exit code."""
    try:
        yield
    except CharnnError as error:
        typer.echo(f"charnn: {error.label}{error.render(_flag_spelling)}", err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("charnn: interrupted", err=True)
        raise typer.Exit(130) from None
    except BrokenPipeError:
        # The reader went away (`charnn sample ... | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so Python's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


CONFIG_FLAGS = {"data.path": "--data", "out_dir": "--out-dir", "device": "--device"}
"""The config keys with a flag of their own (train, config show); the rest take --set."""

SAMPLING, SCORING = SamplingOptions(), EvalOptions()
"""The options' defaults, which the sample and eval flags take (declared once, in
charnn.inference.options)."""


def _option_flags() -> dict[str, str]:
    """Each command parameter's name and its flag (`top_k`: `--top-k`), read from the app."""
    flags: dict[str, str] = {}

    def collect(command: Any) -> None:  # a click command, as typer builds it
        for parameter in command.params:
            if parameter.param_type_name == "option" and parameter.name:
                flags.setdefault(parameter.name, max(parameter.opts, key=len))
        for child in getattr(command, "commands", {}).values():
            collect(child)

    collect(typer.main.get_command(app))
    return flags


def _flag_spelling(name: str, value: str | None) -> str:
    """How a parameter or config key named in a library message is given on this command line."""
    flag = CONFIG_FLAGS.get(name) or _option_flags().get(name)
    if flag is None:
        if "." in name:  # a config key without a flag of its own
            return name if value is None else f"--set {name}={value}"
        return python_spelling(name, value)
    return flag if value is None or value == "True" else f"{flag} {value}"


def _flag_overrides(**values: object) -> list[str]:
    """`--set` overrides for the config keys given by their own flags (see CONFIG_FLAGS)."""
    keys = {flag.removeprefix("--").replace("-", "_"): key for key, flag in CONFIG_FLAGS.items()}
    return [f"{keys[name]}={value}" for name, value in values.items() if value is not None]


def _choices(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Shell completion: the choices that start with what is typed."""

    def complete(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    return complete


def _complete_key(incomplete: str) -> list[str]:
    """Shell completion after --set: the config keys, each with its `=`."""
    return [f"{key}=" for key in known_keys() if key.startswith(incomplete)]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        autocompletion=_choices(DEVICE_CHOICES),
        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.",
        show_default=False,
    ),
]

UnknownCharsOption = Annotated[
    str,
    typer.Option(
        "--unknown-chars",
        autocompletion=_choices(UNKNOWN_CHAR_POLICIES),
        help="Characters the model never saw in training: error (name them and stop), drop "
        "them, or replace them with --replace-with.",
    ),
]
ReplaceWithOption = Annotated[
    str,
    typer.Option(
        "--replace-with",
        help="The character that --unknown-chars replace puts in place of unseen ones; it "
        "must be in the model's vocabulary.",
    ),
]

TRAIN_EPILOG = (
    "Examples:  charnn train  |  "
    "charnn train configs/shakespeare-lstm.yaml --set train.lr=3e-3  |  "
    "charnn train --data notes.txt --out-dir runs/notes  |  "
    "charnn train --resume --out-dir runs/notes"
)


@app.command(epilog=TRAIN_EPILOG)
def train(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="YAML config file (see configs/). Without one, built-in defaults that need no "
            "network are used.",
            show_default=False,
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            autocompletion=_complete_key,
            help="Override one config key, e.g. --set model.hidden_size=512. Repeatable. "
            "Precedence: defaults < YAML < --set < --data/--out-dir/--device.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Train on this UTF-8 text file (sets data.path).", show_default=False
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="The run directory (sets out_dir).", show_default=False),
    ] = None,
    device: DeviceOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run in the run directory from its last.pt (model, optimizer, "
            "step, schedule, data position). Training keys may change; model and data keys "
            "may not.",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Start over in a run directory that already holds a run."),
    ] = False,
) -> None:
    """Train a language model or a classifier into a run directory.

    Writes config.yaml, last.pt, best.pt and metrics.jsonl there."""
    with _user_errors():
        from charnn.config import load_config
        from charnn.training import loop as trainer
        from charnn.training.resume import resume_config

        if resume and overwrite:
            raise CharnnError("--resume continues a run and --overwrite starts it over; pick one")
        if config is not None and config.is_dir() and (config / "config.yaml").is_file():
            raise CharnnError(
                f"{config} is a run directory, not a config file; to continue the run in it: "
                f"charnn train --resume --out-dir {config}"
            )
        all_overrides = [
            *(overrides or []),
            *_flag_overrides(data=data, out_dir=out_dir, device=device),
        ]
        if resume:
            run_config, checkpoint = resume_config(config, all_overrides)
        else:
            run_config, checkpoint = load_config(config, all_overrides), None
        summary = trainer.train(run_config, resume_from=checkpoint, overwrite=overwrite)
        best = f"{summary.best_val_loss:.4f}" if summary.best_val_loss is not None else "n/a"
        if run_config.task == "classify":
            score = summary.best_score
            best = (
                f"best {summary.score_name} {score:.4f} (val loss {best})"
                if score is not None
                else f"best val loss {best}"
            )
            after = f"charnn predict {summary.run_dir} TEXT"
        else:
            best, after = f"best val loss {best} nats/char", f"charnn sample {summary.run_dir}"
        logging.getLogger("charnn").info(
            "done: %d steps in %.0fs (%s, %s %s/s); %s. Next: %s",
            summary.steps,
            summary.elapsed_s,
            summary.stopped_by.replace("_", " ") + " reached",
            f"{summary.chars_per_s:,.0f}",
            summary.unit,
            best,
            after,
        )


@app.command(
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
    with _user_errors():
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
        _print_samples(steps, prime=prime, num_samples=num_samples)


def _print_samples(steps: Iterator[list[str]], *, prime: str, num_samples: int) -> None:
    """Stream the first sample live; the others (generated in the same batch) follow it."""
    out = sys.stdout
    if num_samples > 1:
        out.write("--- sample 1 ---\n")
    out.write(prime)
    out.flush()
    others: list[list[str]] = [[] for _ in range(num_samples - 1)]
    last_flush = time.monotonic()
    for chars in steps:
        out.write(chars[0])
        for buffer, char in zip(others, chars[1:], strict=True):
            buffer.append(char)
        if chars[0] == "\n" or time.monotonic() - last_flush > 0.05:
            out.flush()
            last_flush = time.monotonic()
    out.write("\n")
    for index, buffer in enumerate(others, start=2):
        out.write(f"--- sample {index} ---\n{prime}{''.join(buffer)}\n")
    out.flush()


@app.command(
    name="eval",
    epilog="Examples:  charnn eval runs/default  |  charnn eval runs/x --split test --json  |  "
    "charnn eval runs/x --window 64  |  "
    "charnn eval runs/x --text-file other.txt",
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
            autocompletion=_choices(EVAL_SPLITS),
        ),
    ] = SCORING.split,
    text_file: Annotated[
        Path | None,
        typer.Option(
            "--text-file", help="Score this text file instead of a split.", show_default=False
        ),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="The encoding of --text-file, e.g. latin-1.")
    ] = SCORING.encoding,
    errors: Annotated[
        str,
        typer.Option(
            "--errors",
            autocompletion=_choices(DECODE_ERRORS),
            help="Bytes of --text-file not valid in its encoding: strict (stop), replace "
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
    with _user_errors():
        from charnn.api import load_model
        from charnn.inference.classifier import ClassifyResult

        model = load_model(run, device=device or "auto")
        if model.classifies and window is not None:
            raise CharnnError(
                f"{model.path} is a classifier (task: classify): it reads each example whole, "
                "so --window does not apply; drop it"
            )
        if text_file is not None:
            result = model.score_file(
                text_file,
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
        scored = str(text_file) if text_file is not None else f"{split} split"
        if isinstance(result, ClassifyResult):
            if as_json:
                record = {
                    **result.to_dict(),
                    "text": scored,
                    "checkpoint": str(path),
                    "step": checkpoint.step,
                }
                typer.echo(json.dumps(record))
            else:
                typer.echo(f"{scored} scored by {path} (step {checkpoint.step})")
                typer.echo(_classify_table(result))
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


def _classify_table(result: ClassifyResult) -> str:
    """A ClassifyResult as aligned lines: the scores, per-class scores, confusion matrix."""
    lines = [
        f"  loss        {result.loss:.4f} nats",
        f"  accuracy    {result.accuracy:.4f}",
        f"  macro-F1    {result.macro_f1:.4f}",
        f"  examples    {result.examples:,}",
        f"  speed       {result.examples_per_s:,.0f} examples/s ({result.seconds:.2f}s)",
    ]
    for label, count in result.unseen_labels.items():
        lines.append(f"  unseen label {label!r}: {count} example(s), scored as wrong")
    width = max(5, *(len(label) for label in result.labels))
    lines.append("")
    lines.append(f"  {'label':<{width}}  precision  recall     f1  support")
    for label, scores in result.per_class.items():
        lines.append(
            f"  {label:<{width}}  {scores['precision']:9.4f}  {scores['recall']:6.4f}  "
            f"{scores['f1']:.4f}  {scores['support']:7d}"
        )
    cell = max(5, *(len(str(value)) for row in result.confusion for value in row))
    lines.append("")
    lines.append("  confusion (rows: true label, columns: predicted, in the order above)")
    for label, row in zip(result.labels, result.confusion, strict=True):
        counts = " ".join(f"{value:>{cell}}" for value in row)
        lines.append(f"  {label:<{width}}  {counts}")
    return "\n".join(lines)


@app.command(
    epilog="Examples:  charnn predict runs/names Satoshi Dvorak  |  "
    "charnn predict runs/names --file names.txt --top-k 3 --json  |  "
    "cat names.txt | charnn predict runs/names --file -"
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
            "(.tsv, .jsonl) are read as their text; their labels are ignored.",
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
    """Label texts with a classifier: the likeliest labels.

    Each text's top labels are printed with their probabilities."""
    with _user_errors():
        from charnn.api import load_model
        from charnn.data.labelled import read_prediction_lines

        all_texts = list(texts or [])
        if file is not None:
            all_texts += read_prediction_lines(file, sys.stdin)
        if not all_texts:
            raise CharnnError(
                "nothing to classify; give texts as arguments, or --file FILE (- for stdin)"
            )
        model = load_model(run, device=device or "auto")
        if not model.classifies:
            raise CharnnError(
                f"{model.path} is a language model (task: lm): it has no labels to predict; "
                f"generate with charnn sample {run}, or train a classifier with --set task=classify"
            )
        started = time.perf_counter()
        predictions = model.classify(
            all_texts, top_k=top_k, unknown_chars=unknown_chars, replace_with=replace_with
        )
        seconds = time.perf_counter() - started
        out = sys.stdout
        for text, labels in zip(all_texts, predictions, strict=True):
            if as_json:
                record = {"text": text, "labels": [[label, p] for label, p in labels]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                ranked = "  ".join(f"{label} {p:.3f}" for label, p in labels)
                out.write(f"{ranked}\t{text}\n")
        out.flush()
        rate = len(all_texts) / seconds if seconds > 0 else 0.0
        logging.getLogger("charnn").info(
            "classified %d text(s) in %.2fs (%s examples/s)",
            len(all_texts),
            seconds,
            f"{rate:,.0f}",
        )


@app.command(epilog="Examples:  charnn info runs/default  |  charnn info runs/x --json")
def info(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (reads its last.pt) or a checkpoint file.", show_default=False
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of aligned lines.")
    ] = False,
) -> None:
    """What a run is: data, model, steps, losses, versions.

    Corpus, vocabulary, model shape, steps, losses, time, device and versions."""
    with _user_errors():
        from charnn.artifacts.info import format_info, run_info

        facts = run_info(run)
        typer.echo(json.dumps(facts) if as_json else format_info(facts))


@app.command(
    name="export",
    epilog="Examples:  charnn export runs/x  |  charnn export runs/x --format onnx  |  "
    "charnn export runs/x --out model.pt",
)
def export_(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (exports its best.pt) or a checkpoint file.", show_default=False
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            autocompletion=_choices(list(FILE_NAMES)),
            help="What to write: torchscript (model.pt, for plain PyTorch) or onnx "
            "(model.onnx, for onnxruntime; needs pip install 'charnn[onnx]').",
        ),
    ] = "torchscript",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The model file to write (its vocabulary goes beside it, as FILE.json). "
            "Default: model.pt or model.onnx in the run directory.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the model as a file that runs without charnn.

    The vocabulary (and a classifier's labels) go beside it as JSON."""
    with _user_errors():
        from charnn.artifacts.checkpoint import checkpoint_path, load_checkpoint
        from charnn.artifacts.export.formats import default_file_name
        from charnn.artifacts.export.writer import export

        name = default_file_name(format)
        path = checkpoint_path(run)
        target = out or (run if run.is_dir() else run.parent) / name
        written = export(load_checkpoint(path, map_location="cpu"), target, format=format)
        for file in written:
            typer.echo(str(file))


@app.command(
    epilog="Examples:  charnn plot runs/x  |  charnn plot runs/a runs/b --out compare.png",
)
def plot(
    runs: Annotated[
        list[Path],
        typer.Argument(help="One or more run directories.", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", help="The PNG to write.")] = Path("loss.png"),
) -> None:
    """Plot training and validation loss (needs charnn[plot]).

    Against steps and against wall time, one line a run."""
    with _user_errors():
        from charnn.artifacts.plot import plot_runs

        typer.echo(str(plot_runs(runs, out)))


@app.command(epilog="Examples:  charnn runs  |  charnn runs experiments/ --json")
def runs(
    folder: Annotated[Path, typer.Argument(help="The folder the run directories are in.")] = Path(
        "runs"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a run instead of a table.")
    ] = False,
) -> None:
    """List the runs in a folder: task, model, steps, scores, time, state.

    State: running (a process holds it), finished, stopped (interrupted, killed or failed) or
    diverged."""
    with _user_errors():
        from charnn.artifacts.runs import format_runs, list_runs

        rows = list_runs(folder)
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row))
        elif rows:
            typer.echo(format_runs(rows))
        else:
            typer.echo(f"no runs in {folder}", err=True)


config_app = typer.Typer(
    help="Inspect configs: the resolved values, and where each comes from.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


@config_app.command(
    "show",
    epilog="Examples:  charnn config show  |  "
    "charnn config show configs/shakespeare-cpu.yaml --set train.lr=3e-3 --sources",
)
def config_show(
    config: Annotated[
        Path | None,
        typer.Argument(help="YAML config file; without one, the defaults.", show_default=False),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override one key, as in train.",
            show_default=False,
            autocompletion=_complete_key,
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Sets data.path.", show_default=False)
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Sets out_dir.", show_default=False)
    ] = None,
    device: DeviceOption = None,
    sources: Annotated[
        bool,
        typer.Option(
            "--sources", help="Mark each value with where it came from: default, file, --set."
        ),
    ] = False,
) -> None:
    """Print the config `charnn train` would run with, as YAML."""
    with _user_errors():
        from charnn.config import config_sources, config_to_yaml, load_config

        sets = list(overrides or [])
        flags = _flag_overrides(data=data, out_dir=out_dir, device=device)
        text = config_to_yaml(load_config(config, sets + flags))
        if sources:
            origin = {
                key: "--set" if source == "override" else source
                for key, source in config_sources(config, sets).items()
            }
            origin.update({flag.partition("=")[0]: "flag" for flag in flags})
            text = _annotate(text, origin)
        typer.echo(text.rstrip("\n"))


@config_app.command(
    "keys",
    epilog="Examples:  charnn config keys  |  charnn config keys train  |  "
    "charnn config keys --json",
)
def config_keys(
    prefix: Annotated[
        str,
        typer.Argument(help="Only the keys that start with this, e.g. train or model.hid."),
    ] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a key instead of a table.")
    ] = False,
) -> None:
    """Every config key: its type, default and meaning (as docs/configuration.md)."""
    with _user_errors():
        from charnn.config_keys import all_keys

        keys = [info for info in all_keys() if info.key.startswith(prefix)]
        if not keys:
            raise CharnnError(f"no config key starts with {prefix!r}; charnn config keys lists all")
        if as_json:
            for info in keys:
                typer.echo(json.dumps(dataclasses.asdict(info)))
            return
        width = max(len(info.key) for info in keys)
        for info in keys:
            typer.echo(f"{info.key:<{width}}  {info.type} = {info.default}")
            for line in textwrap.wrap(info.description, 96 - 4):
                typer.echo(f"    {line}")


@config_app.command("list", epilog="Examples:  charnn config list  |  charnn train quick")
def config_list() -> None:
    """The shipped configs (presets): charnn train NAME runs one."""
    with _user_errors():
        from charnn.presets import preset_names, preset_summary

        names = preset_names()
        if not names:
            raise CharnnError(
                "this charnn has no presets installed; reinstall it (pip install charnn)"
            )
        width = max(len(name) for name in names)
        for name in names:
            typer.echo(f"{name:<{width}}  {preset_summary(name)}")


def _annotate(yaml_text: str, origin: dict[str, str]) -> str:
    """Append `# <source>` to each leaf line of a two-level YAML dump of a config."""
    lines, section = [], ""
    for line in yaml_text.splitlines():
        key = line.strip().split(":", 1)[0]
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            section = key  # a section header such as `data:`
            lines.append(line)
            continue
        dotted = f"{section}.{key}" if line.startswith(" ") else key
        lines.append(f"{line}  # {origin.get(dotted, 'default')}")
    return "\n".join(lines)


def main() -> None:
    app(prog_name="charnn")
