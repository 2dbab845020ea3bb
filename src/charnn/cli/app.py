"""The `charnn` app: its help, --version, logging, and how a user error ends a command.

Every `CharnnError` becomes one line on stderr and a non-zero exit code (2 for user errors)
without a traceback. A message names what to change in the words of the command line: a
parameter or config key the library names is spelled as the flag that sets it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Annotated, Any

import typer

from charnn.cli.options import CONFIG_FLAGS
from charnn.errors import CharnnError, python_spelling
from charnn.version import __version__

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
def user_errors() -> Iterator[None]:
    """Map charnn's user errors to one stderr line and an exit code."""
    try:
        yield
    except CharnnError as error:
        typer.echo(f"charnn: {error.label}{error.render(flag_spelling)}", err=True)
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


def _option_flags() -> dict[str, str]:
    """Each command parameter's name and its flag (`top_k`: `--top-k`), read from the app."""
    flags: dict[str, str] = {}

    def collect(command: Any) -> None:  # a click command, as typer builds it
        for parameter in command.params:
            if parameter.param_type_name == "option" and parameter.name:
                # The first long name: `--file` of `--file` and `--text-file`.
                long_names = [opt for opt in parameter.opts if opt.startswith("--")]
                flags.setdefault(parameter.name, (long_names or parameter.opts)[0])
        for child in getattr(command, "commands", {}).values():
            collect(child)

    collect(typer.main.get_command(app))
    return flags


def flag_spelling(name: str, value: str | None) -> str:
    """How a parameter or config key named in a library message is given on this command line."""
    flag = CONFIG_FLAGS.get(name) or _option_flags().get(name)
    if flag is None:
        if "." in name:  # a config key without a flag of its own
            return name if value is None else f"--set {name}={value}"
        return python_spelling(name, value)
    return flag if value is None or value == "True" else f"{flag} {value}"
