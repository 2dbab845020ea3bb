"""Error messages: the keys they name, spelt for the interface that raised them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from charnn.cli.app import flag_spelling
from charnn.errors import CharnnError, key, python_spelling, spell

from .conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "charnn"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
# Text that is not a message: the header charnn writes at the top of a run's config.yaml,
# which shows the command that resumes it.
NOT_MESSAGES = {
    "# The resolved config of this run (defaults < YAML < --set < flags), written by charnn.\n"
    "# Resume with: charnn train --resume --out-dir ",
}


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module but its docstrings, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstrings.add(id(first.value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docstrings.add(id(node.value))  # attribute docstrings
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_message_outside_the_cli_names_a_flag() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "cli"
        for line, text in string_literals(path)
        if FLAG.search(text) and text not in NOT_MESSAGES
    ]
    assert not found, "\n".join(found)


def test_a_marked_key_is_spelt_for_python_or_for_the_command_line() -> None:
    error = CharnnError(
        f"{key('temperature')} must be >= 0; use {key('data.errors', 'replace')} or "
        f"{key('out_dir', 'runs/x')} with {key('resume', True)}"
    )
    assert str(error) == (
        "temperature must be >= 0; use data.errors=replace or out_dir=runs/x with resume=True"
    )
    assert error.render(flag_spelling) == (
        "--temperature must be >= 0; use --set data.errors=replace or --out-dir runs/x with "
        "--resume"
    )


def test_a_wrapped_message_keeps_its_marks() -> None:
    inner = CharnnError(f"bad {key('data.path')}")
    outer = CharnnError(f"{inner.marked} (or {key('file', 'PATH')})")
    assert outer.render(flag_spelling) == "bad --data (or --file PATH)"
    assert spell(outer.marked, python_spelling) == "bad data.path (or file=PATH)"
