"""Training: truncated BPTT over contiguous streams, AdamW, clipping, schedule, evals, checkpoints.

`train()` reads top to bottom: lock and prepare the run directory, load the data, build (or
restore) the model and optimizer, then step until max_steps or max_time, evaluating and
checkpointing every `eval_every` steps and once more at the end.

A step whose loss or gradient norm is not finite is skipped: no optimizer update, the carried
hidden state is dropped, and the skip is counted. Too many in a row stop the run as diverged,
keeping the checkpoints already written, which never hold non-finite weights.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from charnn.artifacts.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    Checkpoint,
    NonFiniteWeights,
    load_checkpoint,
    save_checkpoint,
)
from charnn.artifacts.metrics import MetricsLog, bits_per_char
from charnn.artifacts.run_dir import CONFIG_NAME, METRICS_NAME, start_run, training_lock
from charnn.artifacts.tensorboard import TensorBoardMirror
from charnn.config import (
    RunConfig,
    TrainConfig,
    changed_keys,
    config_to_dict,
    config_to_yaml,
    load_config,
)
from charnn.data.corpus import PreparedCorpus, prepare_corpus, split_ids
from charnn.data.streams import TrainStreams
from charnn.errors import CheckpointError, ConfigError, TrainingDiverged, key
from charnn.inference.evaluator import evaluate
from charnn.model.cells import map_hidden
from charnn.model.network import (
    CharRNN,
    Hidden,
    count_parameters,
    detach_hidden,
    hidden_from_list,
    hidden_to_list,
)
from charnn.model.precision import (
    AUTOCAST_DEVICES,
    autocast,
    keep_recurrence_out_of_float16,
    warn_unused_precision,
)
from charnn.platform.allocator import tune_malloc
from charnn.platform.compile import compile_model, compiled_training
from charnn.platform.device import (
    configure_backends,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from charnn.training.progress import Progress
from charnn.training.schedule import lr_at
from charnn.training.signals import interrupted, out_of_memory_is_a_user_error, stop_on_signals
from charnn.training.world import World, join_world, leave_world, rank_device

logger = logging.getLogger(__name__)

# A resumed run must read the same text, in the same windows, with the same network; these
# keys (and key prefixes) decide that, so they cannot change on --resume.
FROZEN_ON_RESUME = ("data.", "model.", "train.batch_size", "train.seq_len")


@dataclass
class TrainState:
    """What changes from step to step, and what a resumed run needs to carry on."""

    step: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None
    hidden: Hidden | None = None
    skipped_steps: int = 0
    consecutive_skips: int = 0


@dataclass
class TrainSummary:
    run_dir: Path
    steps: int
    elapsed_s: float
    best_val_loss: float | None
    last_val_loss: float | None
    stopped_by: str
    """`max_steps` or `max_time`."""
    chars_per_s: float
    """Training characters over the whole wall time, evaluations included."""


def build_optimizer(model: CharRNN, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay applies to matrices (embedding, recurrent, head), never to biases."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": config.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")


@dataclass
class StepResult:
    loss: torch.Tensor
    grad_norm: torch.Tensor
    """The global gradient norm before clipping."""
    hidden: Hidden | None
    """The detached state to carry into the next window (None after a skipped step)."""
    applied: bool
    """False when the loss or gradient norm was not finite and the update was skipped."""


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    hidden: Hidden | None,
    *,
    grad_clip: float,
    precision: str,
    world: World | None = None,
) -> StepResult:
    """One truncated-BPTT step; skipped (no update) when the loss or gradient is not finite.

    In a run of several processes, `model` is wrapped in DistributedDataParallel (backward
    averages the gradients) and the loss is averaged over `world`, so all take the same step.
    """
    with autocast(inputs.device, precision):
        logits, hidden = model(inputs, hidden)  # (B, T, V)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world is not None:
        loss = world.mean(loss.detach())
    parameters = [p for p in model.parameters() if p.grad is not None]
    if grad_clip > 0:
        # Clipping the global norm keeps one exploding window from wrecking the weights.
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    else:
        gradients = [p.grad for p in parameters if p.grad is not None]
        grad_norm = torch.nn.utils.get_total_norm(gradients)
    # The one host sync of a step: whether to update must be known before optimizer.step().
    if not bool(torch.isfinite(loss) & torch.isfinite(grad_norm)):
        optimizer.zero_grad(set_to_none=True)
        # The state that led here cannot be trusted either; the next window starts from zeros.
        return StepResult(loss.detach(), grad_norm.detach(), None, applied=False)
    optimizer.step()
    return StepResult(loss.detach(), grad_norm.detach(), detach_hidden(hidden), applied=True)


def resume_config(config_file: Path | None, overrides: list[str]) -> tuple[RunConfig, Checkpoint]:
    """The config of a resumed run and its last checkpoint.

    The run's stored config is the base; a config file and overrides may change training keys
    (lr, max_steps, max_time, ...), which is logged; changing data or model keys is refused.
    """
    run_dir = Path(load_config(config_file, overrides).out_dir)
    last = run_dir / LAST_NAME
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
            f"cannot resume with {frozen[0]} changed ({old!r} -> {new!r}): a run's data, model "
            "and batch layout are fixed; drop that change, or start a new run in another "
            f"{key('out_dir')}"
        )
    for name, (old, new) in sorted(changes.items()):
        if name != "out_dir":
            logger.info("resuming with %s changed: %r -> %r", name, old, new)
    return config, checkpoint


def train(
    config: RunConfig, *, resume_from: Checkpoint | None = None, overwrite: bool = False
) -> TrainSummary:
    """Train a model as `config` says, writing the run directory; resume when given a checkpoint."""
    tune_malloc()  # training's big buffers are reused rather than faulted in again every step
    device = resolve_device(config.device)
    world = join_world(device)  # one process, or one of several started by torchrun
    finished = False
    try:
        device = rank_device(device, world)
        if not world.is_main:  # rank 0 speaks for the run
            logging.getLogger("charnn").setLevel(logging.WARNING)
        configure_backends(device)
        warn_unused_precision(device, config.train.precision)
        run_dir = Path(config.out_dir)
        with contextlib.ExitStack() as held:

            def claim_run_dir() -> None:
                held.enter_context(training_lock(run_dir))
                start_run(run_dir, resuming=resume_from is not None, overwrite=overwrite)

            world.on_main(claim_run_dir)
            summary = _train_in(run_dir, config, device, resume_from, world)
            finished = True
            return summary
    finally:
        leave_world(world, finished=finished)


def _train_in(
    run_dir: Path,
    config: RunConfig,
    device: torch.device,
    resume_from: Checkpoint | None,
    world: World,
) -> TrainSummary:
    # One process fills the token cache; the others then map what it wrote.
    corpus = world.on_main(lambda: prepare_corpus(config.data)) or prepare_corpus(config.data)
    splits = split_ids(
        corpus.ids, val_fraction=config.data.val_fraction, test_fraction=config.data.test_fraction
    )
    if resume_from is not None:
        resume_from.check_corpus(
            corpus.name,
            corpus.sha256,
            corpus.vocab,
            fix="resuming would train on other text; restore the file, "
            f"or start a new run in another {key('out_dir')}",
        )
    streams = TrainStreams(
        splits.train, batch_size=config.train.batch_size, seq_len=config.train.seq_len
    )
    streams = streams.shard(world.rank, world.size).to(device)

    seed_everything(config.train.seed)
    model = CharRNN(config.model, len(corpus.vocab)).to(device)
    if config.train.precision == "bf16" and device.type in AUTOCAST_DEVICES:
        keep_recurrence_out_of_float16(model, autocast(device, config.train.precision))
    if world.distributed:
        seed_everything(config.train.seed + world.rank)  # dropout differs between shares
    optimizer = build_optimizer(model, config.train, device)
    state = TrainState()
    if resume_from is not None:
        state = _restore(resume_from, model, optimizer, device, world)
    stepped: torch.nn.Module = model
    if world.distributed:  # broadcasts rank 0's weights, then averages gradients in backward
        stepped = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    if config.train.compile:  # checkpoints keep saving `model`, whose names do not change
        stepped = compile_model(stepped)

    mirror = TensorBoardMirror(run_dir) if config.train.tensorboard and world.is_main else None
    metrics = MetricsLog(run_dir / METRICS_NAME, mirror=mirror)
    if world.is_main:
        config_text = _config_header(config) + config_to_yaml(config)
        (run_dir / CONFIG_NAME).write_text(config_text, "utf-8")
        metrics.keep_until(state.step)  # records past the checkpoint belong to a lost session
    run = _Run(
        config=config,
        run_dir=run_dir,
        device=device,
        world=world,
        corpus=corpus,
        model=model,
        stepped=stepped,
        optimizer=optimizer,
        state=state,
        val_ids=splits.val[: config.train.eval_chars].to(device)
        if world.is_main
        else splits.val[:0],
        metrics=metrics,
        last_val_loss=resume_from.val_loss if resume_from is not None else None,
        last_saved_step=state.step if resume_from is not None else None,
        saved_elapsed_s=state.elapsed_s,  # 0, or the time the resumed checkpoint recorded
    )
    if run.last_val_loss is not None:  # resumed from an evaluation: no need to repeat it
        run.last_eval_step = state.step
    run.log_start(train_chars=len(splits.train))
    if config.train.compile:
        logger.info(
            "train.compile: the first steps compile the model (minutes on a CPU), "
            "and that time counts toward train.max_time"
        )
        if device.type == "cpu" and not model.cell.compiles_faster_on_cpu:
            logger.warning(
                "train.compile made model.cell=%s train slower on a CPU when measured "
                "(BENCHMARKS.md, scripts/compile_check.py); only the GRU gained",
                config.model.cell,
            )
    with (
        stop_on_signals() as stop_signal,
        Progress(
            total_steps=config.train.max_steps, initial_step=state.step, shown=world.is_main
        ) as progress,
        out_of_memory_is_a_user_error(config, device),
        compiled_training(config.train.compile),
    ):
        stopped_by = run.loop(streams, progress, stop_signal)
        run.finish(progress)
    return run.summary(stopped_by)


@dataclass
class _Window:
    """Running sums between two progress reports."""

    loss_sum: torch.Tensor | None = None
    """Sum of the losses of the applied steps."""
    grad_norm: torch.Tensor | None = None
    steps: int = 0
    applied_steps: int = 0
    chars: int = 0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class _Run:
    """The pieces of one training session, and the loop that steps them."""

    config: RunConfig
    run_dir: Path
    device: torch.device
    world: World
    corpus: PreparedCorpus
    model: CharRNN
    stepped: torch.nn.Module
    """What the training step calls: the model, or its DistributedDataParallel wrapper."""
    optimizer: torch.optim.Optimizer
    state: TrainState
    val_ids: torch.Tensor
    metrics: MetricsLog
    last_val_loss: float | None
    last_saved_step: int | None
    """The step of the newest last.pt on disk (None: nothing saved yet)."""
    lr: float = 0.0
    window: _Window = field(default_factory=_Window)
    last_eval_step: int = -1
    clock_zero: float = 0.0
    saved_elapsed_s: float = 0.0
    """The training time recorded in the newest last.pt."""

    def loop(self, streams: TrainStreams, progress: Progress, stop_signal: list[int]) -> str:
        """Step until a limit is reached; returns which (`max_steps` or `max_time`)."""
        train, state = self.config.train, self.state
        self.clock_zero = time.perf_counter() - state.elapsed_s
        self.model.train()
        while True:
            state.elapsed_s = time.perf_counter() - self.clock_zero
            stopped_by = _limit_reached(state, train)
            signal_number = stop_signal[0] if stop_signal else 0
            if self.world.distributed:  # rank 0's clock and decisions hold for every rank
                elapsed_s, limit, main_signal = self.world.from_main(
                    [state.elapsed_s, STOP_REASONS.index(stopped_by), signal_number]
                )
                state.elapsed_s, stopped_by = elapsed_s, STOP_REASONS[int(limit)]
                signal_number = int(main_signal)
            if stopped_by:
                return stopped_by
            if signal_number:
                self.save(LAST_NAME, val_loss=None)
                raise interrupted(int(signal_number), state.step, self.run_dir / LAST_NAME)

            inputs, targets, epoch_starts = streams.window(state.step)
            if epoch_starts:
                state.hidden = None  # every stream jumps back to its start
            self.lr = lr_at(state.step, state.elapsed_s, train)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
            result = train_step(
                self.stepped,
                self.optimizer,
                inputs,
                targets,
                state.hidden,
                grad_clip=train.grad_clip,
                precision=train.precision,
                world=self.world if self.world.distributed else None,
            )
            state.step += 1
            state.hidden = result.hidden
            self.count(result, chars=inputs.numel() * self.world.size)  # all ranks

            if state.step % train.log_every == 0:
                self.report(progress)
            progress.step()
            if state.step % train.eval_every == 0:
                paused = time.perf_counter()
                state.elapsed_s = paused - self.clock_zero
                if self.world.distributed:  # saved with the checkpoint, and compared in finish()
                    (state.elapsed_s,) = self.world.from_main([state.elapsed_s])
                self.evaluate_and_save(progress)
                self.window.started += time.perf_counter() - paused  # chars/s: training only

    def count(self, result: StepResult, *, chars: int) -> None:
        """Add one step to the report window; stop the run when too many in a row were skipped."""
        window, state = self.window, self.state
        window.steps += 1
        window.chars += chars
        window.grad_norm = result.grad_norm
        if result.applied:
            state.consecutive_skips = 0
            window.applied_steps += 1
            previous = window.loss_sum
            window.loss_sum = result.loss if previous is None else previous + result.loss
            return
        state.skipped_steps += 1
        state.consecutive_skips += 1
        logger.warning(
            "step %d skipped: loss %s, gradient norm %s (%d in a row)",
            state.step,
            f"{result.loss.item():.4g}",
            f"{result.grad_norm.item():.4g}",
            state.consecutive_skips,
        )
        if state.consecutive_skips > self.config.train.max_consecutive_skips:
            raise self.diverged(
                f"the loss or gradient norm was not finite for {state.consecutive_skips} steps in "
                f"a row (up to step {state.step}, train.max_consecutive_skips="
                f"{self.config.train.max_consecutive_skips})"
            )

    def diverged(self, what: str) -> TrainingDiverged:
        """The error that stops a diverged run, naming the checkpoint to go back to."""
        out_dir = self.config.out_dir
        if self.last_saved_step is None:
            kept = "no checkpoint was written yet"
        else:
            kept = (
                f"the last good checkpoint is {self.run_dir / LAST_NAME} "
                f"(step {self.last_saved_step}); to continue from it, "
                f"{key('resume', True)} {key('out_dir', out_dir)} {key('train.lr', '<lower>')}"
            )
        return TrainingDiverged(
            f"training diverged: {what}; stopped without saving, {kept}; "
            f"lower train.lr (now {self.config.train.lr:g}) or train.grad_clip"
        )

    def finish(self, progress: Progress) -> None:
        """Report the last partial window and evaluate the final weights, once."""
        if self.window.steps:
            self.report(progress)
        if self.last_eval_step != self.state.step:
            self.evaluate_and_save(progress)
        elif self.saved_elapsed_s < self.state.elapsed_s:
            # Evaluated at this very step, but the clock ran on (into max_time, say): record
            # the time spent, or a resumed run would think it has budget left.
            self.save(LAST_NAME, val_loss=self.last_val_loss)

    def report(self, progress: Progress) -> None:
        window, state = self.window, self.state
        assert window.grad_norm is not None
        # Host sync, once per report. A window of skipped steps only has no loss to show.
        loss = (
            window.loss_sum.item() / window.applied_steps
            if window.loss_sum is not None
            else math.nan
        )
        grad_norm = window.grad_norm.item()
        seconds = time.perf_counter() - window.started
        chars_per_s = window.chars / seconds if seconds > 0 else 0.0
        elapsed_s = time.perf_counter() - self.clock_zero
        self.window = _Window()
        if not self.world.is_main:
            return
        self.metrics.write(
            "train",
            step=state.step,
            loss=loss,
            lr=self.lr,
            grad_norm=grad_norm,
            chars_per_s=chars_per_s,
            elapsed_s=elapsed_s,
            skipped_steps=state.skipped_steps,
        )
        skipped = f" | {state.skipped_steps} skipped" if state.skipped_steps else ""
        progress.report(
            f"step {state.step} | loss {loss:.4f} | lr {self.lr:.2e} | grad norm {grad_norm:.2f} | "
            f"{chars_per_s:,.0f} chars/s | {elapsed_s:.0f}s{skipped}",
            loss=loss,
            lr=self.lr,
            chars_per_s=chars_per_s,
        )

    def evaluate_and_save(self, progress: Progress) -> None:
        state = self.state
        # Rank 0 scores the weights (the same on every rank) and tells the others.
        val_loss, seconds = 0.0, 0.0
        if self.world.is_main:
            result = evaluate(self.model, self.val_ids)
            val_loss, seconds = result.loss, result.seconds
        val_loss, seconds = self.world.from_main([val_loss, seconds])
        improved = math.isfinite(val_loss) and (
            state.best_val_loss is None or val_loss < state.best_val_loss
        )
        if improved:
            state.best_val_loss = val_loss
            self.save(BEST_NAME, val_loss=val_loss)
        self.save(LAST_NAME, val_loss=val_loss)
        self.last_val_loss, self.last_eval_step = val_loss, state.step
        if not self.world.is_main:
            return
        self.metrics.write(
            "eval",
            step=state.step,
            val_loss=val_loss,
            elapsed_s=state.elapsed_s,
            skipped_steps=state.skipped_steps,
        )
        progress.note(
            f"step {state.step}: val loss {val_loss:.4f} ({bits_per_char(val_loss):.3f} bpc)"
            f"{', best so far' if improved else ''} [{seconds:.1f}s]"
        )

    def save(self, name: str, *, val_loss: float | None) -> None:
        """Write a checkpoint (every rank calls this; rank 0 writes, with all ranks' state)."""
        state, world = self.state, self.world
        hidden = state.hidden
        if world.distributed and hidden is not None:  # every rank's streams, in row order
            hidden = map_hidden(lambda part: world.gather_rows(part, 1), hidden)
        rank_rngs = world.gather_states(rng_state(self.device)) if world.distributed else []
        checkpoint = Checkpoint(
            config=self.config,
            vocab=self.corpus.vocab,
            model_state={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            optimizer_state=self.optimizer.state_dict(),
            step=state.step,
            best_val_loss=state.best_val_loss,
            val_loss=val_loss,
            elapsed_s=state.elapsed_s,
            skipped_steps=state.skipped_steps,
            consecutive_skips=state.consecutive_skips,
            hidden=hidden_to_list(hidden),
            rng=rank_rngs[0] if rank_rngs else rng_state(self.device),
            rank_rngs=rank_rngs,
            corpus={
                "name": self.corpus.name,
                "chars": len(self.corpus.ids),
                "sha256": self.corpus.sha256,
            },
            device=str(self.device),
        )
        try:
            world.on_main(lambda: save_checkpoint(self.run_dir / name, checkpoint))
        except NonFiniteWeights:
            raise self.diverged(
                f"the weights are not finite (NaN or inf) at step {state.step}"
            ) from None
        if name == LAST_NAME:
            self.last_saved_step, self.saved_elapsed_s = state.step, state.elapsed_s

    def log_start(self, *, train_chars: int) -> None:
        model, step = self.config.model, self.state.step
        cell = self.model.cell.title
        logger.info(
            "%s %s %dx%d (%s parameters) on %s; corpus %s: %s chars, %s for training, "
            "vocabulary %d",
            f"resuming at step {step}:" if step else "training",
            cell,
            model.num_layers,
            model.hidden_size,
            f"{count_parameters(self.model):,}",
            self.device,
            self.corpus.name,
            f"{len(self.corpus.ids):,}",
            f"{train_chars:,}",
            len(self.corpus.vocab),
        )

    def summary(self, stopped_by: str) -> TrainSummary:
        state, train = self.state, self.config.train
        chars = state.step * train.batch_size * train.seq_len
        return TrainSummary(
            run_dir=self.run_dir,
            steps=state.step,
            elapsed_s=state.elapsed_s,
            best_val_loss=state.best_val_loss,
            last_val_loss=self.last_val_loss,
            stopped_by=stopped_by,
            chars_per_s=chars / state.elapsed_s if state.elapsed_s > 0 else 0.0,
        )


STOP_REASONS = ("", "max_steps", "max_time")


def _limit_reached(state: TrainState, config: TrainConfig) -> str:
    if config.max_steps is not None and state.step >= config.max_steps:
        return "max_steps"
    if config.max_time is not None and state.elapsed_s >= config.max_time:
        return "max_time"
    return ""


def _restore(
    checkpoint: Checkpoint,
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    world: World,
) -> TrainState:
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
    if hidden is not None and world.distributed:  # this rank's rows of the B streams
        share = _rows_of(checkpoint.config.train.batch_size, world)
        hidden = map_hidden(lambda part: part[:, share].contiguous(), hidden)
    return TrainState(
        step=checkpoint.step,
        elapsed_s=checkpoint.elapsed_s,
        best_val_loss=checkpoint.best_val_loss,
        hidden=hidden,
        skipped_steps=checkpoint.skipped_steps,
        consecutive_skips=checkpoint.consecutive_skips,
    )


def _rows_of(batch_size: int, world: World) -> slice:
    """The rows of the B streams that belong to this rank (as TrainStreams.shard cuts them)."""
    share = batch_size // world.size
    return slice(world.rank * share, (world.rank + 1) * share)


def _config_header(config: RunConfig) -> str:
    return (
        "# The resolved config of this run (defaults < YAML < --set < flags), written by charnn.\n"
        f"# Resume with: charnn train --resume --out-dir {config.out_dir}\n"
    )
