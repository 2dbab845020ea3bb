"""`charnn inspect`: a page showing what a trained model makes of a text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from charnn.cli.app import user_errors
from charnn.cli.options import SCORING, ReplaceWithOption, UnknownCharsOption
from charnn.errors import CharnnError

commands = typer.Typer()
"""This family's commands; charnn.cli adds them to the app."""

LINES_SHOWN = 10
"""Lines of the --lines ranking printed on the terminal (the page has more)."""


@commands.command(
    epilog="Examples:  charnn inspect runs/shakespeare-lstm --text 'ROMEO: hello'  |  "
    "charnn inspect runs/logs --file today.log --lines  |  "
    'charnn inspect runs/code --file x.py --pattern \'"[^"]*"\'  |  '
    "charnn inspect runs/names --text Satoshi --out names.html"
)
def inspect(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run directory (its best.pt) or a checkpoint file.", show_default=False
        ),
    ],
    text: Annotated[
        str | None,
        typer.Option("--text", help="The text to inspect.", show_default=False),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="Inspect this file's text (- reads stdin).", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Where to write the page (one self-contained HTML file)."),
    ] = Path("inspect.html"),
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the page's numbers as one JSON object instead."),
    ] = False,
    units: Annotated[
        str | None,
        typer.Option(
            "--units",
            help="Hidden units to draw as lanes, e.g. 17,42 (default: the most variable ones).",
            show_default=False,
        ),
    ] = None,
    pattern: Annotated[
        str | None,
        typer.Option(
            "--pattern",
            help="A regular expression: draw the units whose activation best separates the "
            "characters inside its matches from the rest.",
            show_default=False,
        ),
    ] = None,
    lines: Annotated[
        bool,
        typer.Option(
            "--lines", help="Rank the text's lines by bits per character, most surprising first."
        ),
    ] = False,
    unknown_chars: UnknownCharsOption = SCORING.unknown_chars,
    replace_with: ReplaceWithOption = SCORING.replace_with,
) -> None:
    """A page of what a model makes of a text, character by character.

    A language model: each character coloured by its surprisal, the likeliest characters there,
    hidden units as lanes. A classifier: how each likely label's probability changes as it
    reads each text (a line of the file)."""
    with user_errors():
        from charnn.api import load_model
        from charnn.artifacts.inspect_page import render_page
        from charnn.platform.atomic import atomic_write

        given = [name for name, value in (("--text", text), ("--file", file)) if value is not None]
        if len(given) != 1:
            raise CharnnError(
                "give the text to inspect as --text TEXT or --file FILE (- for stdin), one of them"
            )
        source = text if text is not None else _read(file or "-")
        chosen_units = _units(units)
        model = load_model(run, device="cpu")
        report = model.inspect(
            source,
            units=chosen_units,
            pattern=pattern,
            lines=lines,
            unknown_chars=unknown_chars,
            replace_with=replace_with,
        )
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False))
            return
        page = render_page(report, title=f"charnn inspect {model.path}")
        with atomic_write(out) as handle:
            handle.write(page.encode("utf-8"))
        if report["kind"] == "lm":
            typer.echo(f"{report['bits_per_char']:.4f} bits/char over {report['scored']:,} chars")
            for row in report.get("lines", [])[:LINES_SHOWN]:
                typer.echo(f"{row['bits_per_char']:8.3f}  line {row['line']:<6} {row['text']}")
        else:
            for item in report["texts"]:
                ranked = "  ".join(f"{label} {p:.3f}" for label, p in item["top"])
                typer.echo(f"{ranked}\t{item['text']}")
        typer.echo(f"wrote {out}", err=True)


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    from charnn.data.sources import read_text_file

    return read_text_file(Path(file), what="text file")


def _units(units: str | None) -> list[int] | None:
    if units is None:
        return None
    try:
        return [int(unit) for unit in units.split(",") if unit.strip()]
    except ValueError:
        raise CharnnError(
            f"--units takes unit numbers separated by commas, e.g. 17,42; got {units!r}"
        ) from None
