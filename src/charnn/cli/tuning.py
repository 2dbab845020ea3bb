"""`charnn tune`: search a config's space for the best run in a time budget."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from charnn.cli.app import user_errors
from charnn.cli.options import DeviceOption, flag_overrides, set_option
from charnn.errors import CharnnError

commands = typer.Typer()
"""This family's commands; charnn.cli adds them to the app."""

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


@commands.command(
    epilog="Examples:  charnn tune shakespeare-lstm --trials 20 --trial-time 80s  |  "
    "charnn tune names-classify --data names.tsv --time 30m --study runs/names-study  |  "
    "charnn tune configs/x.yaml --trials 50 --storage postgresql://user@db/charnn"
)
def tune(
    config: Annotated[
        Path | None,
        typer.Argument(help="YAML config file or preset; its tune: section sets the space."),
    ] = None,
    overrides: Annotated[
        list[str] | None, set_option("Override one config key of every trial. Repeatable.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Train every trial on this file (sets data.path).", show_default=False
        ),
    ] = None,
    device: DeviceOption = None,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials", help="Stop once the study has this many trials.", show_default=False
        ),
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="Stop starting trials after this long, e.g. 30m, 2h, 600s.",
            show_default=False,
        ),
    ] = None,
    trial_time: Annotated[
        str, typer.Option("--trial-time", help="Each trial's training time (train.max_time).")
    ] = "60s",
    study: Annotated[
        Path,
        typer.Option("--study", help="The study directory: its trials' runs, best.yaml, study.db."),
    ] = Path("runs/study"),
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="An Optuna storage URL (e.g. postgresql://...) instead of the study directory's "
            "SQLite file, for workers on several machines.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a study that stopped.")
    ] = False,
) -> None:
    """Search a config's space for the best run in a time budget.

    Each trial is an ordinary run in the study directory; best.yaml is the best trial's config.
    Start the same command again, here or on another machine, to add a worker to the study."""
    with user_errors():
        from charnn.tuning.study import tune as run_study

        all_overrides = [*(overrides or []), *flag_overrides(data=data, device=device)]
        typer.echo(f"{'trial':>5}  {'state':<8} {'score':>8}  parameters", err=True)
        summary = run_study(
            config,
            all_overrides,
            study_dir=study,
            trials=trials,
            time_budget=_seconds(time_budget, "--time") if time_budget else None,
            trial_time=_seconds(trial_time, "--trial-time"),
            storage=storage,
            resume=resume,
            on_trial=_print_trial,
        )
        if summary.best_yaml is None:
            typer.echo(f"no trial finished in {study}; nothing to write", err=True)
            return
        typer.echo(
            f"best: trial {summary.best_trial}, {summary.score_name} {summary.best_value:.4f}, "
            f"of {summary.trials} trial(s) in {summary.seconds:.0f}s. "
            f"Next: charnn train {summary.best_yaml}",
            err=True,
        )


def _print_trial(row: dict[str, Any]) -> None:
    value = "-" if row["value"] is None else f"{row['value']:.4f}"
    params = "  ".join(f"{name.split('.')[-1]}={_short(v)}" for name, v in row["params"].items())
    typer.echo(f"{row['number']:>5}  {row['state']:<8} {value:>8}  {params}", err=True)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _seconds(text: str, flag: str) -> float:
    match = DURATION.match(text)
    if match is None:
        raise CharnnError(f"{flag} takes a duration such as 90s, 30m or 2h; got {text!r}")
    number, unit = float(match[1]), match[2] or "s"
    return number * {"s": 1, "m": 60, "h": 3600}[unit]
