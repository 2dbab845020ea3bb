"""Saving and restoring a training run: the checkpointer gathers what every process holds
(the hidden state of all streams, each rank's random generators) into one checkpoint that rank 0
writes, and gives each rank back its share on resume."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from charnn.artifacts.checkpoint import LAST_NAME, Checkpoint, save_checkpoint
from charnn.config import RunConfig
from charnn.model.cells import map_hidden
from charnn.model.network import hidden_from_list, hidden_to_list
from charnn.platform.device import rng_state, set_rng_state
from charnn.training.schedule import Restart
from charnn.training.state import TrainState
from charnn.training.world import World

logger = logging.getLogger(__name__)


class Checkpointer:
    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        world: World,
        device: torch.device,
        task_fields: Callable[[], dict[str, Any]],
    ) -> None:
        """`task_fields`: what the task adds to each checkpoint, asked at each save (a
        classifier's baseline weight changes with each evaluation)."""
        self.run_dir, self._config, self._world, self._device = run_dir, config, world, device
        self._task_fields = task_fields
        self.last_saved_step: int | None = None
        """The step of the newest last.pt on disk (None: nothing saved yet)."""
        self.saved_elapsed_s = 0.0
        """The training time recorded in the newest last.pt."""

    def save(
        self,
        name: str,
        state: TrainState,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        val_loss: float | None,
    ) -> None:
        """Write `name` in the run directory. Every rank calls this (the gathers are collective);
        rank 0 writes. Raises `NonFiniteWeights` rather than save weights that are not finite."""
        world = self._world
        hidden = state.hidden
        if hidden is not None:  # every rank's streams, in row order
            hidden = map_hidden(lambda part: world.gather_rows(part, 1), hidden)
        rank_rngs = world.rank_states(rng_state(self._device))
        checkpoint = Checkpoint(
            config=self._config,
            model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            optimizer_state=optimizer.state_dict(),
            step=state.step,
            best_val_loss=state.best_val_loss,
            best_score=state.best_score,
            evals_since_best=state.evals_since_best,
            schedule_restart=state.restart.to_dict() if state.restart else {},
            val_loss=val_loss,
            elapsed_s=state.elapsed_s,
            skipped_steps=state.skipped_steps,
            consecutive_skips=state.consecutive_skips,
            hidden=hidden_to_list(hidden),
            rng=rank_rngs[0] if rank_rngs else rng_state(self._device),
            rank_rngs=rank_rngs,
            device=str(self._device),
            **self._task_fields(),
        )
        world.on_main(lambda: save_checkpoint(self.run_dir / name, checkpoint))
        if name == LAST_NAME:
            self.last_saved_step, self.saved_elapsed_s = state.step, state.elapsed_s

    def restore(
        self, checkpoint: Checkpoint, model: torch.nn.Module, optimizer: torch.optim.Optimizer
    ) -> TrainState:
        """Load the weights, the optimizer and this rank's random generators and streams'
        state; the loop's state to carry on from."""
        world, device = self._world, self._device
        model.load_state_dict(checkpoint.model_state)
        if checkpoint.optimizer_state is not None:
            optimizer.load_state_dict(checkpoint.optimizer_state)
        if len(checkpoint.rank_rngs) == world.size:
            set_rng_state(checkpoint.rank_rngs[world.rank], device)
        elif not world.distributed:
            set_rng_state(checkpoint.rng, device)
        else:  # saved by another number of processes: same data, but dropout draws differ
            logger.warning(
                "the checkpoint was written by %d process(es), this run has %d: resuming with "
                "fresh random streams, so dropout masks will not repeat the first run's",
                max(1, len(checkpoint.rank_rngs)),
                world.size,
            )
        hidden = hidden_from_list(checkpoint.hidden, device)
        if hidden is not None:  # this rank's rows of the B streams
            batch_size = checkpoint.config.train.batch_size
            hidden = map_hidden(lambda part: world.local_rows(part, batch_size), hidden)
        self.last_saved_step, self.saved_elapsed_s = checkpoint.step, checkpoint.elapsed_s
        return TrainState(
            step=checkpoint.step,
            elapsed_s=checkpoint.elapsed_s,
            best_val_loss=checkpoint.best_val_loss,
            best_score=_best_score(checkpoint),
            evals_since_best=checkpoint.evals_since_best,
            restart=Restart.from_dict(checkpoint.schedule_restart),
            hidden=hidden,
            skipped_steps=checkpoint.skipped_steps,
            consecutive_skips=checkpoint.consecutive_skips,
        )


def _best_score(checkpoint: Checkpoint) -> float | None:
    """The stored best score; a language model's checkpoint from before scores were stored
    kept only its best loss, whose score is -loss."""
    if checkpoint.best_score is not None or checkpoint.classifies:
        return checkpoint.best_score
    return None if checkpoint.best_val_loss is None else -checkpoint.best_val_loss
