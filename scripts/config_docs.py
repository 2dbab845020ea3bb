"""Write docs/configuration.md from the config dataclasses: every key, its type, its default and
its attribute docstring, so the reference cannot drift from the code.

    python scripts/config_docs.py           # rewrite docs/configuration.md
    python scripts/config_docs.py --check   # exit 1 when it is stale (the tests run this)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import sys
import typing
from pathlib import Path
from typing import Any

from charnn import config

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "configuration.md"

INTRO = """\
# Configuration

<!-- Written by scripts/config_docs.py from src/charnn/config.py; edit the docstrings there. -->

A run is configured by one YAML file with three sections, `data`, `model` and `train`, plus
`device` and `out_dir` at the top level. Every key has a default, so a file names only what
it changes (see `configs/`). Precedence, lowest to highest:

    defaults  <  YAML file  <  --set KEY=VALUE  <  dedicated flags (--data, --out-dir, --device)

`charnn config show [FILE] [--set ...] --sources` prints the resolved config and where each
value came from. Unknown keys are errors that suggest the closest known key (charnn also knows
what other tools call them: `learning_rate`, `rnn_size`, `bptt`, `block_size`, ...). Each value
is coerced by its key's type: PyYAML follows YAML 1.1 and reads `lr: 3e-3` as a string, which
charnn converts. Null (`~`, `null` or `none`) is allowed where the type says `or null`. A
resumed run keeps its `data.*`, `model.*`, `train.batch_size` and `train.seq_len`; other keys
may change on `--resume`.

The cosine decay follows whichever limit is closer to done: with `train.max_time` set, the
learning rate reaches its floor when the time runs out, so a time budget is used well (such a
schedule follows the clock, so two timed runs are not bit-for-bit identical; step-limited runs
are). From Python, the same keys are the fields of `charnn.config.RunConfig` and its sections.
"""


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source."""
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
    return " or ".join(type_name(arg) for arg in typing.get_args(kind))  # a table cell: no |


def default_text(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def section(cls: type, prefix: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            continue
        missing = f"(undocumented: add a docstring under {cls.__name__}.{field.name})"
        lines.append(
            f"| `{prefix}{field.name}` | {type_name(hints[field.name])} | "
            f"`{default_text(field)}` | {docs.get(field.name, missing)} |"
        )
    return lines


def render() -> str:
    parts = [INTRO]
    for name, cls in (
        ("data", config.DataConfig),
        ("model", config.ModelConfig),
        ("train", config.TrainConfig),
    ):
        parts.append(f"## `{name}`\n")
        parts.append(inspect.cleandoc(cls.__doc__ or "") + "\n")
        parts.append("\n".join(section(cls, f"{name}.")) + "\n")
    parts.append("## Top level\n")
    parts.append("\n".join(section(config.RunConfig, "")) + "\n")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/config_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
