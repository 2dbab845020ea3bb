"""Training, for either task: steps, clipping, schedule, evaluations, checkpoints, stopping.

`train()` claims the run directory, builds a `Run` (the task's data, the model, the optimizer,
restored when resuming), then `Run.train()` steps until train.max_steps, train.max_time or
train.max_epochs, evaluating and checkpointing every `train.eval_every` steps and once more at
the end; with train.early_stopping_patience, it also stops after that many evaluations without
a better validation score. best.pt holds the best-scoring weights. The pieces
own their parts: the task (training/task.py) its batches, objective and evaluation; the limits
(training/limits.py) when the run stops; the checkpointer saving and restoring; the clock
elapsed time; the reporter the log lines and metrics.jsonl; the world what the processes of a
torchrun run share.

A step whose loss or gradient norm is not finite is skipped: no optimizer update, the carried
hidden state is dropped, and the skip is counted. Too many in a row stop the run as diverged,
keeping the checkpoints already written, which never hold non-finite weights.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from charnn.artifacts.checkpoint import BEST_NAME, LAST_NAME, Checkpoint, NonFiniteWeights
from charnn.artifacts.jsonl import JsonLines
from charnn.artifacts.metrics import MetricsLog
from charnn.artifacts.run_dir import (
    CONFIG_NAME,
    METRICS_NAME,
    SAMPLES_NAME,
    start_run,
    training_lock,
    write_status,
)
from charnn.artifacts.tensorboard import TensorBoardMirror
from charnn.artifacts.wandb_tracker import WandbMirror
from charnn.config import RunConfig, config_to_dict, config_to_yaml
from charnn.errors import TrainingDiverged, key
from charnn.model.network import count_parameters
from charnn.model.precision import (
    AUTOCAST_DEVICES,
    autocast,
    keep_recurrence_out_of_float16,
    warn_unused_precision,
)
from charnn.platform.allocator import tune_malloc
from charnn.platform.compile import compile_model, compiled_training
from charnn.platform.device import configure_backends, resolve_device, seed_everything
from charnn.training.checkpointer import Checkpointer
from charnn.training.classification import ClassificationTask
from charnn.training.clock import Clock
from charnn.training.limits import STOP_REASONS, Limits
from charnn.training.progress import Progress
from charnn.training.report import Reporter
from charnn.training.schedule import lr_at
from charnn.training.signals import interrupted, out_of_memory_is_a_user_error, stop_on_signals
from charnn.training.state import TrainState, TrainSummary
from charnn.training.step import StepResult, build_optimizer, train_step
from charnn.training.task import Evaluation, LanguageModelTask, Task
from charnn.training.world import World, join_world, leave_world, rank_device

__all__ = ["Run", "TrainSummary", "train"]

logger = logging.getLogger(__name__)


EvaluationHook = Callable[[float, float, float], bool]
"""Called after each evaluation with (seconds of training, val loss, score); returning False
stops the run (`pruned`). One process only: charnn tune's pruner."""


def train(
    config: RunConfig,
    *,
    resume_from: Checkpoint | None = None,
    overwrite: bool = False,
    on_evaluation: EvaluationHook | None = None,
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
            run = Run(config, run_dir, device, world, resume_from)
            run.on_evaluation = on_evaluation
            # Rank 0 alone, with no collective: the other ranks may be failing too.
            if world.is_main:
                write_status(run_dir, "running")
            try:
                summary = run.train()
            except BaseException as error:
                if world.is_main:
                    ended = "diverged" if isinstance(error, TrainingDiverged) else "stopped"
                    write_status(run_dir, ended, step=run.state.step)
                raise
            if world.is_main:
                write_status(run_dir, "finished", step=summary.steps, stopped_by=summary.stopped_by)
            finished = True
            return summary
    finally:
        leave_world(world, finished=finished)


def build_task(config: RunConfig, world: World, device: torch.device) -> Task:
    if config.task == "classify":
        return ClassificationTask(config, world, device)
    return LanguageModelTask(config, world, device)


class Run:
    """One training session: its pieces, and the loop that steps them."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        device: torch.device,
        world: World,
        resume_from: Checkpoint | None,
    ) -> None:
        train = config.train
        self.config, self.run_dir, self.device, self.world = config, run_dir, device, world
        self.task = build_task(config, world, device)
        self.limits = Limits(train, steps_per_epoch=self.task.steps_per_epoch)
        if resume_from is not None:
            self.task.check_resume(resume_from)

        seed_everything(train.seed)
        self.model = self.task.build_model(config.model).to(device)
        if train.precision == "bf16" and device.type in AUTOCAST_DEVICES:
            keep_recurrence_out_of_float16(self.model, autocast(device, train.precision))
        world.seed_ranks(train.seed)  # dropout differs between the ranks' shares
        self.optimizer = build_optimizer(self.model, train, device)
        self.checkpointer = Checkpointer(
            run_dir, config, world, device, self.task.checkpoint_fields
        )
        self.state = TrainState()
        if resume_from is not None:
            self.state = self.checkpointer.restore(resume_from, self.model, self.optimizer)
            self.limits.continue_the_decay(resume_from.config.train, self.state)
        # What the step calls; checkpoints keep saving `model`, whose names do not change.
        self.stepped = world.wrap(self.model, device)
        if train.compile:
            self.stepped = compile_model(self.stepped)

        mirrors: list[Callable[[str, dict[str, Any]], None]] = []
        self.wandb: WandbMirror | None = None
        if train.tensorboard and world.is_main:
            # Records past the checkpoint belong to a lost session, as in metrics.jsonl.
            after = self.state.step + 1 if resume_from is not None else None
            mirrors.append(TensorBoardMirror(run_dir, purge_step=after))
        if train.wandb_project and world.is_main:
            self.wandb = WandbMirror(
                run_dir, project=train.wandb_project, config=config_to_dict(config)
            )
            mirrors.append(self.wandb)
        self.metrics = MetricsLog(run_dir / METRICS_NAME, mirrors=mirrors)
        self.samples = JsonLines(run_dir / SAMPLES_NAME)
        if world.is_main:
            self.samples.keep_until(self.state.step)
            (run_dir / CONFIG_NAME).write_text(_config_header(config) + config_to_yaml(config))
            self.metrics.keep_until(self.state.step)  # later records belong to a lost session
        # Resumed from an evaluation: no need to repeat it.
        self.last_val_loss = resume_from.val_loss if resume_from is not None else None
        self.last_eval_step = self.state.step if self.last_val_loss is not None else -1
        self.lr = 0.0
        patience = train.early_stopping_patience
        self.stop_early = patience is not None and self.state.evals_since_best >= patience
        self.pruned = False
        """The evaluation hook said to stop."""
        self.on_evaluation: EvaluationHook | None = None

    def train(self) -> TrainSummary:
        config, state = self.config, self.state
        self.log_start()
        self.limits.log_if_finished(
            state, stopped_early=self.stop_early, score_name=self.task.score_name
        )
        with (
            stop_on_signals() as stop_signal,
            Progress(
                total_steps=self.limits.step_limit(),
                initial_step=state.step,
                shown=self.world.is_main,
            ) as progress,
            out_of_memory_is_a_user_error(config, self.device),
            compiled_training(config.train.compile),
        ):
            self.clock = Clock(resumed_s=state.elapsed_s)
            self.reporter = Reporter(
                self.metrics,
                progress,
                self.clock,
                log_every=config.train.log_every,
                unit=self.task.unit,
                speaks=self.world.is_main,
            )
            try:
                stopped_by = self.loop(stop_signal)
                self.finish()
            finally:
                if self.wandb is not None:
                    self.wandb.close()
        return self.summary(stopped_by)

    def loop(self, stop_signal: list[int]) -> str:
        """Step until a limit is reached or early stopping says so; returns which (one of
        STOP_REASONS)."""
        train, state = self.config.train, self.state
        self.model.train()
        while True:
            stopped_by, signal_number = self.agree_on_stopping(stop_signal)
            if stopped_by:
                return stopped_by
            if self.stop_early:
                return "early_stopping"
            if self.pruned:
                return "pruned"
            if signal_number:
                self.save(LAST_NAME, val_loss=None)
                raise interrupted(signal_number, state.step, self.run_dir / LAST_NAME)

            batch = self.task.batch(state.step)
            if batch.restarts:
                state.hidden = None  # every stream jumps back to its start
            self.lr = lr_at(
                state.step,
                state.elapsed_s,
                train,
                epoch_steps=self.limits.epoch_limit,
                restart=state.restart,
            )
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
            result = train_step(
                self.stepped,
                self.optimizer,
                batch,
                state.hidden,
                objective=self.task.objective,
                grad_clip=train.grad_clip,
                precision=train.precision,
                world=self.world,
            )
            state.step += 1
            state.hidden = result.hidden
            self.count(result, units=self.task.units(batch) * self.world.size)
            self.reporter.tick(state, self.lr)
            if train.sample_every and state.step % train.sample_every == 0:
                with self.clock.paused():  # throughput counts training alone
                    self.sample_now()
            if state.step % train.eval_every == 0:
                with self.clock.paused():  # throughput counts training alone
                    # Rank 0's time: saved with the checkpoint, and compared in finish().
                    (state.elapsed_s,) = self.world.from_main([self.clock.elapsed()])
                    self.evaluate_and_save()

    def sample_now(self) -> None:
        """Print a short sample and keep it in samples.jsonl (rank 0; the others go on)."""
        if not self.world.is_main:
            return
        train, step = self.config.train, self.state.step
        # Its own generator, seeded by the step: the training's random streams are untouched.
        text = self.task.sample(self.model, length=train.sample_length, seed=train.seed + step)
        self.samples.append({"step": step, "text": text})
        self.reporter.sampled(step, text)

    def agree_on_stopping(self, stop_signal: list[int]) -> tuple[str, int]:
        """Which limit, if any, stops the run now, and the signal that asks it to stop (0:
        none). Rank 0's clock and signals decide for every rank."""
        state = self.state
        state.elapsed_s = self.clock.elapsed()
        limit = STOP_REASONS.index(self.limits.reached(state))
        signal_number = stop_signal[0] if stop_signal else 0
        agreed = self.world.from_main([state.elapsed_s, limit, signal_number])
        state.elapsed_s = agreed[0]
        return STOP_REASONS[int(agreed[1])], int(agreed[2])

    def count(self, result: StepResult, *, units: int) -> None:
        """Count a step's skip, if it was skipped; stop the run when too many in a row were."""
        state, limit = self.state, self.config.train.max_consecutive_skips
        if result.applied:
            state.consecutive_skips = 0
        else:
            state.skipped_steps += 1
            state.consecutive_skips += 1
        self.reporter.count(state, result, units=units)
        if state.consecutive_skips > limit:
            raise self.diverged(
                f"the loss or gradient norm was not finite for {state.consecutive_skips} steps in "
                f"a row (up to step {state.step}, train.max_consecutive_skips={limit})"
            )

    def diverged(self, what: str) -> TrainingDiverged:
        """The error that stops a diverged run, naming the checkpoint to go back to."""
        last_saved_step = self.checkpointer.last_saved_step
        if last_saved_step is None:
            kept = "no checkpoint was written yet"
        else:
            kept = (
                f"the last good checkpoint is {self.run_dir / LAST_NAME} "
                f"(step {last_saved_step}); to continue from it, resume with "
                f"{key('resume', True)} {key('out_dir', self.config.out_dir)} "
                f"{key('train.lr', '<lower>')}"
            )
        return TrainingDiverged(
            f"training diverged: {what}; stopped without saving, {kept}; "
            f"lower train.lr (now {self.config.train.lr:g}) or train.grad_clip"
        )

    def finish(self) -> None:
        """Report the last partial window and evaluate the final weights, once."""
        state = self.state
        self.reporter.report(state, self.lr)
        if self.world.is_main:
            self.limits.warn_short_warmup(state.step, ended=True)
        if self.last_eval_step != state.step:
            self.evaluate_and_save()
        elif self.checkpointer.saved_elapsed_s < state.elapsed_s:
            # Evaluated at this very step, but the clock ran on (into max_time, say): record
            # the time spent, or a resumed run would think it has budget left.
            self.save(LAST_NAME, val_loss=self.last_val_loss)

    def evaluate_and_save(self) -> None:
        state, world = self.state, self.world
        # Rank 0 scores the weights (the same on every rank) and tells the others.
        evaluation = Evaluation(loss=0.0, seconds=0.0, score=0.0)
        if world.is_main:
            evaluation = self.task.evaluate(self.model)
        val_loss, seconds, score = world.from_main(
            [evaluation.loss, evaluation.seconds, evaluation.score]
        )
        # Equal scores (the same accuracy, say) are told apart by the loss.
        improved = math.isfinite(val_loss) and (
            state.best_score is None
            or score > state.best_score
            or (
                score == state.best_score
                and state.best_val_loss is not None
                and val_loss < state.best_val_loss
            )
        )
        if improved:
            state.best_val_loss, state.best_score, state.evals_since_best = val_loss, score, 0
            self.save(BEST_NAME, val_loss=val_loss)
        else:
            state.evals_since_best += 1
        patience = self.config.train.early_stopping_patience
        self.stop_early = patience is not None and state.evals_since_best >= patience
        self.save(LAST_NAME, val_loss=val_loss)
        self.last_val_loss, self.last_eval_step = val_loss, state.step
        self.reporter.evaluated(
            state, val_loss, seconds=seconds, improved=improved, metrics=evaluation.metrics
        )
        hook = self.on_evaluation
        if hook is not None and not hook(state.elapsed_s, val_loss, score):
            self.pruned = True
        if self.stop_early:
            logger.info(
                "stopping early: %d evaluations without a better %s (train.early_stopping_"
                "patience=%d); best.pt holds the best weights",
                state.evals_since_best,
                self.task.score_name,
                patience,
            )

    def save(self, name: str, *, val_loss: float | None) -> None:
        """Write a checkpoint (every rank calls this; rank 0 writes, with all ranks' state)."""
        try:
            self.checkpointer.save(name, self.state, self.model, self.optimizer, val_loss=val_loss)
        except NonFiniteWeights:
            raise self.diverged(
                f"the weights are not finite (NaN or inf) at step {self.state.step}"
            ) from None

    def log_start(self) -> None:
        if self.world.is_main:
            self.limits.warn_short_warmup(self.state.step, ended=False)
        model, train, step = self.config.model, self.config.train, self.state.step
        logger.info(
            "%s %s %dx%d (%s parameters) on %s; %s",
            f"resuming at step {step}:" if step else "training",
            self.model.cell.title,
            model.num_layers,
            model.hidden_size,
            f"{count_parameters(self.model):,}",
            self.device,
            self.task.describe(),
        )
        if train.compile:
            logger.info(
                "train.compile: the first steps compile the model (minutes on a CPU), "
                "and that time counts toward train.max_time"
            )
            if self.device.type == "cpu" and not self.model.cell.compiles_faster_on_cpu:
                logger.warning(
                    "train.compile made model.cell=%s train slower on a CPU when measured "
                    "(BENCHMARKS.md, scripts/compile_check.py); only the GRU gained",
                    model.cell,
                )

    def summary(self, stopped_by: str) -> TrainSummary:
        state = self.state
        units = state.step * self.task.units_per_step
        return TrainSummary(
            run_dir=self.run_dir,
            steps=state.step,
            elapsed_s=state.elapsed_s,
            best_val_loss=state.best_val_loss,
            last_val_loss=self.last_val_loss,
            stopped_by=stopped_by,
            chars_per_s=units / state.elapsed_s if state.elapsed_s > 0 else 0.0,
            unit=self.task.unit,
            best_score=state.best_score,
            score_name=self.task.score_name,
            baseline_score=getattr(self.task, "baseline_score", None),
        )


def _config_header(config: RunConfig) -> str:
    return (
        "# The resolved config of this run (defaults < YAML < --set < flags), written by charnn.\n"
        f"# Resume with: charnn train --resume --out-dir {config.out_dir}\n"
    )
