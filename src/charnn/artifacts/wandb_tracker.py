"""Optional Weights & Biases tracking (`train.wandb_project`): a mirror of metrics.jsonl.

metrics.jsonl stays the record of a run; this logs the same numbers to a W&B run, with the
resolved config, for people who follow their runs there. It needs the wandb package, an
optional extra (`pip install 'charnn[wandb]'`). W&B's own settings apply as usual: `wandb
login`, or `WANDB_MODE=offline` to log to files under <out_dir>/wandb and sync them later.

A resumed run logs to the same W&B run (its id is kept in <out_dir>/wandb/charnn-run-id).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from charnn.artifacts.run_dir import WANDB_DIR
from charnn.errors import ConfigError

ID_FILE = "charnn-run-id"
WANDB_MISSING = (
    "train.wandb_project needs the wandb package; install it with pip install 'charnn[wandb]', "
    "or unset train.wandb_project"
)


class WandbMirror:
    """Called with each metrics record; logs its numbers at the record's step."""

    def __init__(self, run_dir: Path, *, project: str, config: dict[str, Any]) -> None:
        try:
            import wandb
        except ImportError:
            raise ConfigError(WANDB_MISSING) from None
        folder = run_dir / WANDB_DIR
        folder.mkdir(parents=True, exist_ok=True)
        id_file = folder / ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else secrets.token_hex(4)
        id_file.write_text(run_id + "\n")
        self.run = wandb.init(
            project=project,
            name=run_dir.name,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            config=config,
        )

    def __call__(self, event: str, record: dict[str, Any]) -> None:
        values = {
            f"{event}/{key}": value
            for key, value in record.items()
            if key not in ("event", "step") and isinstance(value, int | float)
        }
        if values:
            self.run.log(values, step=record["step"])

    def close(self) -> None:
        self.run.finish()
