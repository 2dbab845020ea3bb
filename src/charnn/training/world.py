"""Training in several processes (torchrun): who is who, and the few things they must agree on.

`torchrun --nproc-per-node=N -m charnn train ...` starts N copies of charnn with RANK,
WORLD_SIZE and LOCAL_RANK in their environment. `join_world` turns that into a `World` (gloo
on CPU, NCCL on CUDA); without those variables it is the one-process world, where every
method below is free and does nothing special.

How the work is shared (the trainer's side of it):
- `train.batch_size` is the global batch: the B training streams are cut into equal shares,
  rank r taking rows r*B/N .. (r+1)*B/N - 1, so a run computes the same gradients with any N.
- DistributedDataParallel averages the gradients; the loss each rank reports is averaged too,
  so every rank takes the same skip/keep decision and the logged loss is the global one.
- Rank 0 alone owns the run directory: lock, checkpoints, metrics, logs and progress. Its
  clock and its stop decisions (max_time, Ctrl-C) are broadcast, so every rank runs the same
  steps with the same learning rate.
- A checkpoint holds the hidden state of all B streams (gathered from the ranks) and every
  rank's RNG state, so `--resume` restores each rank exactly.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from charnn import errors
from charnn.errors import CharnnError, ConfigError
from charnn.platform.device import seed_everything

T = TypeVar("T")
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """What the training step calls: the model itself, or in a run of several processes
        its DistributedDataParallel wrapper (which broadcasts rank 0's weights, then averages
        the gradients in backward)."""
        if not self.distributed:
            return model
        device_ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def seed_ranks(self, seed: int) -> None:
        """Reseed each rank with `seed + rank`, so that ranks draw different dropout masks for
        their shares of the batch (nothing to do in one process)."""
        if self.distributed:
            seed_everything(seed + self.rank)

    def local_rows(self, value: torch.Tensor, batch_size: int) -> torch.Tensor:
        """This rank's rows (dim 1) of a state over the global batch's `batch_size` streams, as
        `TrainStreams.shard` cuts them (the whole state in one process)."""
        if not self.distributed:
            return value
        share = batch_size // self.size
        return value[:, self.rank * share : (self.rank + 1) * share].contiguous()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the ranks (the tensor itself in one process)."""
        if not self.distributed:
            return value
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.size

    def from_main(self, values: list[float]) -> list[float]:
        """Rank 0's numbers, on every rank."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        dist.broadcast(tensor, src=0)
        return tensor.tolist()

    def gather_rows(self, value: torch.Tensor, dim: int) -> torch.Tensor:
        """Every rank's tensor, concatenated along `dim` in rank order (equal shapes)."""
        if not self.distributed:
            return value
        parts = [torch.empty_like(value) for _ in range(self.size)]
        dist.all_gather(parts, value.contiguous())
        return torch.cat(parts, dim=dim)

    def rank_states(self, value: dict[str, Any]) -> list[dict[str, Any]]:
        """Every rank's plain-data dict (tensors, numbers, tuples), in rank order; none in one
        process, whose own state is all a checkpoint needs."""
        if not self.distributed:
            return []
        gathered: list[dict[str, Any]] = [{} for _ in range(self.size)]
        dist.all_gather_object(gathered, value)
        return gathered

    def on_main(self, work: Callable[[], T]) -> T | None:
        """Run `work` on rank 0 only; when it raises a user error, raise it on every rank, so
        no rank is left waiting for a partner that has stopped. Returns None on the others."""
        if not self.distributed:
            return work()
        result, failure = None, None
        if self.is_main:
            try:
                result = work()
            except CharnnError as error:
                failure = error
        described = [None if failure is None else (type(failure).__name__, failure.marked)]
        dist.broadcast_object_list(described, src=0)
        if failure is not None:
            raise failure
        if described[0] is not None:
            name, text = described[0]
            error_type = getattr(errors, name, CharnnError)
            try:
                copy = error_type(text)
            except TypeError:  # an error type with more arguments: its message is what counts
                copy = CharnnError(text)
            raise copy
        return result

    def _collective_device(self) -> torch.device:
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


SINGLE_PROCESS = World()
"""The world of a run that torchrun did not start."""


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_world(device: torch.device) -> World:
    """The world this process belongs to, joining the process group when torchrun started it.

    On CUDA each process takes the GPU of its LOCAL_RANK and talks over NCCL; on CPU over gloo.
    """
    if not launched_by_torchrun():
        return World()
    try:
        rank, size, local_rank = (int(os.environ[key]) for key in ENV_KEYS)
    except (KeyError, ValueError):
        raise ConfigError(
            f"WORLD_SIZE is set but {', '.join(ENV_KEYS)} are not all integers; "
            "start charnn with torchrun, which sets all three (see docs/training.md)"
        ) from None
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"process {local_rank} on this machine has no GPU: only "
                f"{torch.cuda.device_count()} are visible; start fewer processes per machine"
            )
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"training on {device.type} in several processes is not supported")
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
    return World(rank=rank, size=size, local_rank=local_rank)


def leave_world(world: World, *, finished: bool) -> None:
    """Leave the process group. After a finished run, first wait for every process to get
    here: one that tears down its connections while another is still reading the last
    message makes that other one abort."""
    if world.distributed and dist.is_initialized():
        # DistributedDataParallel's hooks keep the finished run's wrapper in reference cycles,
        # and with it the process group's worker threads; left to the interpreter's teardown,
        # they are destroyed after the threads' runtime is gone and abort the process.
        gc.collect()
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def rank_device(device: torch.device, world: World) -> torch.device:
    """Each process of a CUDA run uses its own GPU (LOCAL_RANK); CPU runs share the CPU."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device
