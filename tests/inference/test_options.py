"""The sampling and scoring options: their checks, and the one set of defaults that the Python
API and the CLI both take."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import typer

from charnn import cli
from charnn.api import Model
from charnn.errors import CharnnError, DataError
from charnn.inference.options import EvalOptions, SamplingOptions, UnseenCharOptions


def cli_defaults(command: str) -> dict[str, Any]:
    """What each parameter of a `charnn` command defaults to, by its Python name."""
    group = typer.main.get_command(cli.app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    return {param.name: param.default for param in params}


def api_defaults(method: Callable[..., Any]) -> dict[str, Any]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(method).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize(
    ("options", "command", "methods"),
    [
        (SamplingOptions(), "sample", [Model.stream, Model.generate]),
        (EvalOptions(), "eval", [Model.score, Model.score_split, Model.score_file]),
    ],
)
def test_the_cli_and_the_api_take_the_options_defaults(
    options: SamplingOptions | EvalOptions, command: str, methods: list[Callable[..., Any]]
) -> None:
    declared = {field.name: getattr(options, field.name) for field in dataclasses.fields(options)}
    flags = cli_defaults(command)
    for name, default in declared.items():
        assert flags[name] == default, (command, name)
    covered = set()
    for method in methods:
        for name, default in api_defaults(method).items():
            if name in declared:
                assert default == declared[name], (method.__name__, name)
                covered.add(name)
    # Every option is a keyword of some API method (num_samples and seed of stream, split of
    # score_split, ...), with the same default.
    assert covered == set(declared), set(declared) - covered


def test_an_unknown_policy_for_unseen_characters_is_refused() -> None:
    with pytest.raises(
        DataError, match=r"unknown_chars 'skip' is not a policy.*error, drop, replace"
    ):
        UnseenCharOptions(unknown_chars="skip")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "dev"}, "unknown split 'dev'; use one of val, test, train"),
        ({"window": 0}, "window must be >= 1"),
        ({"encoding": "klingon"}, "encoding 'klingon' is not an encoding Python knows"),
        ({"errors": "skip"}, "errors must be one of strict, replace, ignore"),
    ],
)
def test_impossible_eval_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CharnnError, match=message):
        EvalOptions(**kwargs)


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(CharnnError, match="length must be >= 0"):
        SamplingOptions(length=-1)
    with pytest.raises(CharnnError, match="num_samples must be >= 1"):
        SamplingOptions(num_samples=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -0.5}, "temperature must be >= 0"),
        ({"temperature": float("nan")}, "temperature must be >= 0"),
        ({"top_k": -1}, "top_k must be >= 0"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ],
)
def test_impossible_sampling_options(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(CharnnError, match=message):
        SamplingOptions(**kwargs)  # type: ignore[arg-type]
