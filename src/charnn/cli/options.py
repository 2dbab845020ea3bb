"""What several commands share: the option types, their completions and their defaults.

Each default is declared once, in charnn.inference.options (sampling and scoring) or charnn.config
(config keys); the options here take them from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from typer.models import OptionInfo

from charnn.config import DEVICE_CHOICES, known_keys
from charnn.inference.options import UNKNOWN_CHAR_POLICIES, EvalOptions, SamplingOptions

CONFIG_FLAGS = {"data.path": "--data", "out_dir": "--out-dir", "device": "--device"}
"""The config keys with a flag of their own (train, config show); the rest take --set."""

SAMPLING, SCORING = SamplingOptions(), EvalOptions()
"""The options' defaults, which the sample and eval flags take (declared once, in
charnn.inference.options)."""


def flag_overrides(**values: object) -> list[str]:
    """`--set` overrides for the config keys given by their own flags (see CONFIG_FLAGS)."""
    keys = {flag.removeprefix("--").replace("-", "_"): key for key, flag in CONFIG_FLAGS.items()}
    return [f"{keys[name]}={value}" for name, value in values.items() if value is not None]


def choices(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Shell completion: the choices that start with what is typed."""

    def complete(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    return complete


def set_option(help_text: str) -> OptionInfo:
    """The repeatable `--set KEY=VALUE` option (train, config show), with each command's help."""
    return typer.Option(
        "--set",
        metavar="KEY=VALUE",
        autocompletion=complete_key,
        help=help_text,
        show_default=False,
    )


def complete_key(incomplete: str) -> list[str]:
    """Shell completion after --set: the config keys, each with its `=`."""
    return [f"{key}=" for key in known_keys() if key.startswith(incomplete)]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        autocompletion=choices(DEVICE_CHOICES),
        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.",
        show_default=False,
    ),
]

UnknownCharsOption = Annotated[
    str,
    typer.Option(
        "--unknown-chars",
        autocompletion=choices(UNKNOWN_CHAR_POLICIES),
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
