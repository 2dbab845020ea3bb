"""The `charnn` command (the only package that imports typer)."""

from charnn.cli.app import app, main

__all__ = ["app", "main"]
