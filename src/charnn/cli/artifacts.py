"""What a run left behind: `charnn info`, `charnn export`, `charnn plot` and `charnn runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from charnn.artifacts.export.formats import FILE_NAMES
from charnn.cli.app import user_errors
from charnn.cli.options import choices

commands = typer.Typer()
"""This family's commands; charnn.cli adds them to the app."""


@commands.command(epilog="Examples:  charnn info runs/default  |  charnn info runs/x --json")
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
    with user_errors():
        from charnn.artifacts.info import format_info, run_info

        facts = run_info(run)
        typer.echo(json.dumps(facts) if as_json else format_info(facts))


@commands.command(
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
            autocompletion=choices(list(FILE_NAMES)),
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
    with user_errors():
        from charnn.artifacts.checkpoint import checkpoint_path, load_checkpoint
        from charnn.artifacts.export.formats import default_file_name
        from charnn.artifacts.export.writer import export

        name = default_file_name(format)
        path = checkpoint_path(run)
        target = out or (run if run.is_dir() else run.parent) / name
        written = export(load_checkpoint(path, map_location="cpu"), target, format=format)
        for file in written:
            typer.echo(str(file))


@commands.command(
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
    with user_errors():
        from charnn.artifacts.plot import plot_runs

        typer.echo(str(plot_runs(runs, out)))


@commands.command(epilog="Examples:  charnn runs  |  charnn runs experiments/ --json")
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
    with user_errors():
        from charnn.artifacts.runs import format_runs, list_runs

        rows = list_runs(folder)
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row))
        elif rows:
            typer.echo(format_runs(rows))
        else:
            typer.echo(f"no runs in {folder}", err=True)
