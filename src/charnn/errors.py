"""The exceptions that mean "the user asked for something we cannot do".

The CLI turns every `CharnnError` into one line on stderr and its exit code: 2 for a user
mistake or unusable input, 3 when training diverged, 128 + N when a signal stopped training.
Anything else that escapes is a bug in charnn and keeps its traceback. Messages name the problem
and the fix. docs/errors.md lists them all.

A message names what to change by its parameter or config key, marked with `key()`: `str(error)`
spells it as a Python caller writes it (`temperature`, `data.encoding=latin-1`), and the CLI
spells the same mark as its flag (`--temperature`, `--set data.encoding=latin-1`). So no message
outside charnn.cli names a command-line flag, and each reads right for the interface that raised it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MARK = re.compile(r"\x00([^\x00\x01]+)(?:\x01([^\x00]*))?\x00")

Spelling = Callable[[str, str | None], str]
"""How an interface writes a key, given its name and the value to give it (or None)."""


def key(name: str, value: object = None) -> str:
    """Mark a parameter or config key in a message, with the value to give it if any."""
    return f"\x00{name}\x00" if value is None else f"\x00{name}\x01{value}\x00"


def python_spelling(name: str, value: str | None) -> str:
    """`name`, or `name=value`: how the library's callers write parameters and config keys."""
    return name if value is None else f"{name}={value}"


def spell(message: str, spelling: Spelling = python_spelling) -> str:
    """A marked message with each key spelt by `spelling`."""
    return _MARK.sub(lambda match: spelling(match[1], match[2]), message)


class CharnnError(Exception):
    """A user mistake or an unusable input, with a message that says how to fix it."""

    exit_code = 2
    label = "error: "
    """What the CLI prints before the message, after "charnn: "."""

    @property
    def marked(self) -> str:
        """The message with its keys still marked (see `key`): for wrapping in another error."""
        return str(self.args[0]) if self.args else ""

    def render(self, spelling: Spelling = python_spelling) -> str:
        return spell(self.marked, spelling)

    def __str__(self) -> str:
        return self.render()


class ConfigError(CharnnError):
    """A config file, key or value that cannot be used."""


class DataError(CharnnError):
    """A corpus or text that cannot be read or used."""


class CheckpointError(CharnnError):
    """A checkpoint or run directory that cannot be used."""


class DeviceError(CharnnError):
    """A device that is not available on this machine."""


class TrainingDiverged(CharnnError):
    """The loss or the weights stopped being finite; training stopped, good checkpoints kept."""

    exit_code = 3


class TrainingInterrupted(CharnnError):
    """Training stopped on a signal after saving; the exit code follows the shell convention."""

    label = ""  # saved and resumable: not an error

    def __init__(self, message: str, *, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number
