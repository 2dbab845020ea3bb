"""Optional TensorBoard logging (`train.tensorboard: true`): a mirror of metrics.jsonl.

metrics.jsonl stays the record of a run (`charnn plot` and resume read it); this writes the
same numbers as TensorBoard scalars into <out_dir>/tensorboard, for people who watch runs
there (`tensorboard --logdir runs`). It needs the tensorboard package, an optional extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charnn.artifacts.run_dir import TENSORBOARD_DIR
from charnn.errors import ConfigError

FOLDER = TENSORBOARD_DIR
SCALARS = {
    "train": {
        "loss": "train/loss",
        "lr": "train/lr",
        "grad_norm": "train/grad_norm",
        "chars_per_s": "train/chars_per_s",
        "examples_per_s": "train/examples_per_s",
    },
    "eval": {
        "val_loss": "val/loss",
        "val_accuracy": "val/accuracy",
        "val_macro_f1": "val/macro_f1",
    },
}
"""metrics.jsonl event -> {record key: TensorBoard tag}."""


class TensorBoardMirror:
    """Called with each metrics record; writes its numbers as scalars at the record's step."""

    def __init__(self, run_dir: Path, *, purge_step: int | None = None) -> None:
        """`purge_step`: for a resumed run, the step after its checkpoint's. Records a crashed
        session wrote past its last checkpoint are written again; TensorBoard drops the old
        ones from that step on (metrics.jsonl is cut there likewise)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "train.tensorboard needs the tensorboard package; install it with "
                "pip install 'charnn[tensorboard]', or set train.tensorboard=false"
            ) from None
        self.writer = SummaryWriter(log_dir=str(run_dir / FOLDER), purge_step=purge_step)

    def __call__(self, event: str, record: dict[str, Any]) -> None:
        for key, tag in SCALARS.get(event, {}).items():
            value = record.get(key)
            if value is not None:
                self.writer.add_scalar(tag, value, global_step=record["step"])
        self.writer.flush()  # a few records per minute at most: keep the files current
