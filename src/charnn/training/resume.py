"""Resuming a run: its stored config is the base, and what may change is checked."""

from __future__ import annotations

import logging
from pathlib import Path

from charnn.artifacts.checkpoint import LAST_NAME, Checkpoint, load_checkpoint
from charnn.artifacts.run_dir import in_use_by
from charnn.config import RunConfig, changed_keys, config_to_dict, load_config
from charnn.errors import CheckpointError, ConfigError, key

logger = logging.getLogger(__name__)

# A resumed run must read the same text, in the same windows, with the same network; these
# keys (and key prefixes) decide that, so they cannot change on resume.
FROZEN_ON_RESUME = (
    "task",
    "data.",
    "model.",
    "train.batch_size",
    "train.seq_len",
    "train.optimizer",
    "train.class_weights",
)


def resume_config(config_file: Path | None, overrides: list[str]) -> tuple[RunConfig, Checkpoint]:
    """The config of a resumed run and its last checkpoint.

    The run's stored config is the base; a config file and overrides may change training keys
    (lr, max_steps, max_time, ...), which is logged; changing data or model keys is refused.
    """
    run_dir = Path(load_config(config_file, overrides).out_dir)
    last = run_dir / LAST_NAME
    holder = in_use_by(run_dir)
    if holder is not None:
        raise CheckpointError(
            f"{run_dir} is in use by another charnn train ({holder}); wait for it to finish or "
            f"stop it, then resume; or train into another {key('out_dir')}"
        )
    if not last.is_file():
        raise CheckpointError(
            f"nothing to resume in {run_dir}: it has no {LAST_NAME}; "
            f"check {key('out_dir')}, or train without {key('resume')} to start a run"
        )
    checkpoint = load_checkpoint(last)
    config = load_config(config_file, overrides, base=config_to_dict(checkpoint.config))
    changes = changed_keys(checkpoint.config, config)
    frozen = sorted(name for name in changes if name.startswith(FROZEN_ON_RESUME))
    if frozen:
        old, new = changes[frozen[0]]
        raise ConfigError(
            f"cannot resume with {frozen[0]} changed ({old!r} -> {new!r}): a run's task, data, "
            "model, batch layout and optimizer are fixed; drop that change, or start a new run "
            "in another "
            f"{key('out_dir')}"
        )
    for name, (old, new) in sorted(changes.items()):
        if name != "out_dir":
            logger.info("resuming with %s changed: %r -> %r", name, old, new)
    return config, checkpoint
