"""The `charnn` command: train, sample, eval, predict, and the commands around them.

Commands parse their options, resolve the config, call one library function and print; this is
the only package that imports typer. `app` holds the app itself and how errors end a command;
each family of commands has a module of its own, and this one adds them to the app in the
order help lists them.
torch-heavy modules are imported inside the commands so `charnn --help` stays fast.
"""

from charnn.cli import artifacts, configs, inference, inspection, training, tuning
from charnn.cli.app import app

for family in (training, tuning, inference, inspection, artifacts):
    app.registered_commands += family.commands.registered_commands
app.add_typer(configs.config_app, name="config")

__all__ = ["app", "main"]


def main() -> None:
    app(prog_name="charnn")
