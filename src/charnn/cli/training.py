"""`charnn train`: a config, its overrides and flags in; a trained run directory out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from charnn.cli.app import user_errors
from charnn.cli.options import DeviceOption, flag_overrides, set_option
from charnn.errors import CharnnError

commands = typer.Typer()
"""This family's commands; charnn.cli adds them to the app."""

TRAIN_EPILOG = (
    "Examples:  charnn train  |  "
    "charnn train configs/shakespeare-lstm.yaml --set train.lr=3e-3  |  "
    "charnn train --data notes.txt --out-dir runs/notes  |  "
    "charnn train --resume --out-dir runs/notes"
)


@commands.command(epilog=TRAIN_EPILOG)
def train(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="YAML config file (see configs/). Without one, built-in defaults that need no "
            "network are used.",
            show_default=False,
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        set_option(
            "Override one config key, e.g. --set model.hidden_size=512. Repeatable. "
            "Precedence: defaults < YAML < --set < --data/--out-dir/--device."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Train on this UTF-8 text file (sets data.path).", show_default=False
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="The run directory (sets out_dir).", show_default=False),
    ] = None,
    device: DeviceOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run in the run directory from its last.pt (model, optimizer, "
            "step, schedule, data position). Training keys may change; model and data keys "
            "may not.",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Start over in a run directory that already holds a run."),
    ] = False,
) -> None:
    """Train a language model or a classifier into a run directory.

    Writes config.yaml, last.pt, best.pt and metrics.jsonl there."""
    with user_errors():
        from charnn.config import load_config
        from charnn.data.sequences import names_sequences
        from charnn.training import loop as trainer
        from charnn.training.resume import resume_config

        if resume and overwrite:
            raise CharnnError("--resume continues a run and --overwrite starts it over; pick one")
        if config is not None and config.is_dir() and (config / "config.yaml").is_file():
            raise CharnnError(
                f"{config} is a run directory, not a config file; to continue the run in it: "
                f"charnn train --resume --out-dir {config}"
            )
        all_overrides = [
            *(overrides or []),
            *flag_overrides(data=data, out_dir=out_dir, device=device),
        ]
        if resume:
            run_config, checkpoint = resume_config(config, all_overrides)
        else:
            run_config, checkpoint = load_config(config, all_overrides), None
        summary = trainer.train(run_config, resume_from=checkpoint, overwrite=overwrite)
        best = f"{summary.best_val_loss:.4f}" if summary.best_val_loss is not None else "n/a"
        if run_config.task == "classify":
            score = summary.best_score
            best = (
                f"best {summary.score_name} {score:.4f} (val loss {best})"
                if score is not None
                else f"best val loss {best}"
            )
            baseline = summary.baseline_score
            if score is not None and baseline is not None:
                verdict = "beats it" if score > baseline else "does not beat it"
                best += f"; the n-gram baseline's is {baseline:.4f}: the model {verdict}"
            after = f"charnn predict {summary.run_dir} " + (
                "--file FILE.npz" if names_sequences(run_config.data.path) else "TEXT"
            )
        else:
            best, after = f"best val loss {best} nats/char", f"charnn sample {summary.run_dir}"
        logging.getLogger("charnn").info(
            "done: %d steps in %.0fs (%s, %s %s/s); %s. Next: %s",
            summary.steps,
            summary.elapsed_s,
            summary.stopped_by.replace("_", " ") + " reached",
            f"{summary.chars_per_s:,.0f}",
            summary.unit,
            best,
            after,
        )
