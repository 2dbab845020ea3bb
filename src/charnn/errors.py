"""The exceptions that mean "the user asked for something we cannot do".

The CLI turns every `CharnnError` into one line on stderr and its exit code: 2 for a user
mistake or unusable input, 3 when training diverged, 128 + N when a signal stopped training.
Anything else that escapes is a bug in charnn and keeps its traceback. Messages name the problem
and the fix. docs/errors.md lists them all.
"""


class CharnnError(Exception):
    """A user mistake or an unusable input, with a message that says how to fix it."""

    exit_code = 2
    label = "error: "
    """What the CLI prints before the message, after "charnn: "."""


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
