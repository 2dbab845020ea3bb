"""A classifier's training speed, charnn's loop against a hand-written one: what the
classification benchmarks (classify_bench.py, sequences_bench.py) both time, side by side."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from charnn.config import RunConfig
from charnn.platform.device import seed_everything
from charnn.training.classification import ClassificationTask
from charnn.training.loop import train

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


def hand_written_speed(task: ClassificationTask, config: RunConfig, steps: int) -> float:
    """Examples/s of a plain padded loop over the task's own first `steps` batches (drawn inside
    the timed loop, as charnn's are): the same model and optimizer, clipping, nothing else."""
    seed_everything(config.train.seed)
    model = task.build_model(config.model)
    optimizer = OPTIMIZERS[config.train.optimizer](model.parameters(), lr=config.train.lr)
    model.train()
    examples = 0
    started = time.perf_counter()
    for step in range(steps):
        batch = task.batch(step)
        examples += len(batch.targets)
        loss = F.cross_entropy(model(batch.inputs, batch.lengths), batch.targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
    return examples / (time.perf_counter() - started)


def charnn_speed(config: RunConfig, steps: int, out_dir: Path) -> float:
    """Examples/s of charnn's training loop over the same steps, as its metrics record it."""
    limited = dataclasses.replace(
        config,
        out_dir=str(out_dir),
        train=dataclasses.replace(
            config.train,
            max_steps=steps,
            max_epochs=None,
            max_time=None,
            eval_every=steps,
            log_every=steps,
        ),
    )
    train(limited, overwrite=True)
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").open()]
    return next(r["examples_per_s"] for r in records if r["event"] == "train")
