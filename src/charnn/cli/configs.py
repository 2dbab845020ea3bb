"""`charnn config show | keys | list`: the resolved config, every key, the presets."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from charnn.cli.app import user_errors
from charnn.cli.options import DeviceOption, flag_overrides, set_option
from charnn.cli.rendering import annotate
from charnn.errors import CharnnError

config_app = typer.Typer(
    help="Inspect configs: the resolved values, and where each comes from.",
    no_args_is_help=True,
)


@config_app.command(
    "show",
    epilog="Examples:  charnn config show  |  "
    "charnn config show configs/shakespeare-cpu.yaml --set train.lr=3e-3 --sources",
)
def config_show(
    config: Annotated[
        Path | None,
        typer.Argument(help="YAML config file; without one, the defaults.", show_default=False),
    ] = None,
    overrides: Annotated[list[str] | None, set_option("Override one key, as in train.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Sets data.path.", show_default=False)
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Sets out_dir.", show_default=False)
    ] = None,
    device: DeviceOption = None,
    sources: Annotated[
        bool,
        typer.Option(
            "--sources", help="Mark each value with where it came from: default, file, --set."
        ),
    ] = False,
) -> None:
    """Print the config `charnn train` would run with, as YAML."""
    with user_errors():
        from charnn.config import config_sources, config_to_yaml, load_config

        sets = list(overrides or [])
        flags = flag_overrides(data=data, out_dir=out_dir, device=device)
        text = config_to_yaml(load_config(config, sets + flags))
        if sources:
            origin = {
                key: "--set" if source == "override" else source
                for key, source in config_sources(config, sets).items()
            }
            origin.update({flag.partition("=")[0]: "flag" for flag in flags})
            text = annotate(text, origin)
        typer.echo(text.rstrip("\n"))


@config_app.command(
    "keys",
    epilog="Examples:  charnn config keys  |  charnn config keys train  |  "
    "charnn config keys --json",
)
def config_keys(
    prefix: Annotated[
        str,
        typer.Argument(help="Only the keys that start with this, e.g. train or model.hid."),
    ] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a key instead of a table.")
    ] = False,
) -> None:
    """Every config key: its type, default and meaning (as docs/configuration.md)."""
    with user_errors():
        from charnn.config_keys import all_keys

        keys = [info for info in all_keys() if info.key.startswith(prefix)]
        if not keys:
            raise CharnnError(f"no config key starts with {prefix!r}; charnn config keys lists all")
        if as_json:
            for info in keys:
                typer.echo(json.dumps(dataclasses.asdict(info)))
            return
        width = max(len(info.key) for info in keys)
        for info in keys:
            typer.echo(f"{info.key:<{width}}  {info.type} = {info.default}")
            for line in textwrap.wrap(info.description, 96 - 4):
                typer.echo(f"    {line}")


@config_app.command("list", epilog="Examples:  charnn config list  |  charnn train quick")
def config_list() -> None:
    """The shipped configs (presets): charnn train NAME runs one."""
    with user_errors():
        from charnn.presets import preset_names, preset_summary

        names = preset_names()
        if not names:
            raise CharnnError(
                "this charnn has no presets installed; reinstall it (pip install charnn)"
            )
        width = max(len(name) for name in names)
        for name in names:
            typer.echo(f"{name:<{width}}  {preset_summary(name)}")
