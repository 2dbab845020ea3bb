"""Every config key with its type, default and one-line description, read from the attribute
docstrings in config.py: what `charnn config keys` prints and docs/configuration.md shows, so
that neither can drift from the code."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import typing
from dataclasses import dataclass
from typing import Any

from charnn import config

SECTIONS: tuple[tuple[str, type], ...] = (
    ("data", config.DataConfig),
    ("model", config.ModelConfig),
    ("train", config.TrainConfig),
    ("", config.RunConfig),
)
"""Each section's prefix and dataclass; the top level (task, device, out_dir) last."""


@dataclass(frozen=True)
class KeyInfo:
    key: str
    """The dotted key, e.g. `model.hidden_size`."""
    type: str
    """`int`, `float or null`, ..."""
    default: str
    """As YAML would spell it: `null`, `true`, `'lstm'`, `256`."""
    description: str


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source, on one line."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def type_name(kind: Any) -> str:
    if kind is type(None):
        return "null"
    if isinstance(kind, type):
        return kind.__name__
    return " or ".join(type_name(arg) for arg in typing.get_args(kind))


def default_text(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def section_keys(cls: type, prefix: str) -> list[KeyInfo]:
    """The leaf keys of one section, in declaration order."""
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    return [
        KeyInfo(
            key=f"{prefix}{field.name}",
            type=type_name(hints[field.name]),
            default=default_text(field),
            description=docs.get(
                field.name, f"(undocumented: add a docstring under {cls.__name__}.{field.name})"
            ),
        )
        for field in dataclasses.fields(cls)
        if not dataclasses.is_dataclass(hints[field.name])
    ]


def all_keys() -> list[KeyInfo]:
    return [
        info
        for prefix, cls in SECTIONS
        for info in section_keys(cls, f"{prefix}." if prefix else "")
    ]
