"""Training: truncated BPTT over contiguous streams, AdamW, clipping, schedule, evals, checkpoints.

`train()` reads top to bottom: set up the run directory, data, model and optimizer, restore a
checkpoint when resuming, then loop until max_steps or max_time, evaluating and checkpointing
every `eval_every` steps and once more at the end.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from charnn.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from charnn.config import (
    RunConfig,
    TrainConfig,
    changed_keys,
    config_to_dict,
    config_to_yaml,
    load_config,
)
from charnn.corpus import Corpus, load_corpus
from charnn.data import TrainStreams, encode_corpus
from charnn.errors import (
    CharnnError,
    CheckpointError,
    ConfigError,
    DataError,
    TrainingInterrupted,
)
from charnn.evaluator import evaluate
from charnn.metrics import MetricsLog, bits_per_char
from charnn.model import (
    CharRNN,
    Hidden,
    count_parameters,
    detach_hidden,
    hidden_from_list,
    hidden_to_list,
)
from charnn.progress import Progress
from charnn.runtime import (
    autocast,
    configure_backends,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
    warn_unused_precision,
)
from charnn.vocab import CharVocab

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
METRICS_NAME = "metrics.jsonl"
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


@dataclass
class TrainSummary:
    run_dir: Path
    steps: int
    elapsed_s: float
    best_val_loss: float | None
    last_val_loss: float | None
    stopped_by: str
    """`max_steps` or `max_time`."""
    parameters: int = 0
    chars_per_s: float = 0.0


@dataclass
class _Window:
    """Running sums between two progress reports."""

    loss_sum: torch.Tensor | None = None
    grad_norm: torch.Tensor | None = None
    steps: int = 0
    chars: int = 0
    started: float = field(default_factory=time.perf_counter)


def lr_at(step: int, elapsed_s: float, config: TrainConfig) -> float:
    """Learning rate for `step`: linear warmup, then cosine decay (or constant).

    The decay follows whichever limit is closer to done, max_steps or max_time, so a run with
    a time budget ends its decay when the time runs out.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = 0.0
    if config.max_steps is not None:
        progress = max(progress, step / config.max_steps)
    if config.max_time is not None:
        progress = max(progress, elapsed_s / config.max_time)
    progress = min(progress, 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: CharRNN, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay applies to matrices (embedding, recurrent, head), never to biases."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": config.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")


def train_step(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    hidden: Hidden | None,
    *,
    grad_clip: float,
    precision: str,
) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
    """One truncated-BPTT step. Returns (loss, grad norm before clipping, detached hidden),
    the first two as device tensors so that the step needs no host sync."""
    with autocast(inputs.device, precision):
        logits, hidden = model(inputs, hidden)  # (B, T, V)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parameters = [p for p in model.parameters() if p.grad is not None]
    if grad_clip > 0:
        # Clipping the global norm keeps one exploding window from wrecking the weights.
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    else:
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
    optimizer.step()
    return loss.detach(), grad_norm.detach(), detach_hidden(hidden)


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
            "check --out-dir, or train without --resume to start a run"
        )
    checkpoint = load_checkpoint(last)
    config = load_config(config_file, overrides, base=config_to_dict(checkpoint.config))
    changes = changed_keys(checkpoint.config, config)
    frozen = sorted(key for key in changes if key.startswith(FROZEN_ON_RESUME))
    if frozen:
        key = frozen[0]
        old, new = changes[key]
        raise ConfigError(
            f"cannot resume with {key} changed ({old!r} -> {new!r}): a run's data, model and "
            "batch layout are fixed; drop that change, or start a new run in another --out-dir"
        )
    for key, (old, new) in sorted(changes.items()):
        if key != "out_dir":
            logger.info("resuming with %s changed: %r -> %r", key, old, new)
    return config, checkpoint


def train(
    config: RunConfig, *, resume_from: Checkpoint | None = None, overwrite: bool = False
) -> TrainSummary:
    """Train a model as `config` says, writing the run directory; resume when given a checkpoint."""
    device = resolve_device(config.device)
    configure_backends(device)
    warn_unused_precision(device, config.train.precision)
    run_dir = _prepare_run_dir(
        Path(config.out_dir), resuming=resume_from is not None, overwrite=overwrite
    )

    corpus = load_corpus(config.data)
    vocab, splits = encode_corpus(
        corpus.text, val_fraction=config.data.val_fraction, test_fraction=config.data.test_fraction
    )
    if resume_from is not None:
        _check_same_corpus(resume_from, corpus, vocab)
    streams = TrainStreams(
        splits.train, batch_size=config.train.batch_size, seq_len=config.train.seq_len
    ).to(device)
    val_ids = splits.val.to(device)

    seed_everything(config.train.seed)
    model = CharRNN(config.model, len(vocab)).to(device)
    optimizer = build_optimizer(model, config.train, device)
    state = TrainState()
    if resume_from is not None:
        state = _restore(resume_from, model, optimizer, device)
    model.train()

    (run_dir / CONFIG_NAME).write_text(
        _config_header(config) + config_to_yaml(config), encoding="utf-8"
    )
    metrics = MetricsLog(run_dir / METRICS_NAME)
    _log_start(config, corpus, vocab, splits.train, model, device, state)

    def save(path: Path, val_loss: float | None) -> None:
        checkpoint = Checkpoint(
            config=config,
            vocab=vocab,
            model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            optimizer_state=optimizer.state_dict(),
            step=state.step,
            best_val_loss=state.best_val_loss,
            val_loss=val_loss,
            elapsed_s=state.elapsed_s,
            hidden=hidden_to_list(state.hidden),
            rng=rng_state(device),
            corpus={"name": corpus.name, "chars": len(corpus.text), "sha256": corpus.sha256},
            device=str(device),
        )
        save_checkpoint(path, checkpoint)

    def evaluate_and_save(progress: Progress) -> float:
        result = evaluate(model, val_ids)
        improved = state.best_val_loss is None or result.loss < state.best_val_loss
        if improved:
            state.best_val_loss = result.loss
            save(run_dir / BEST_NAME, result.loss)
        save(run_dir / LAST_NAME, result.loss)
        metrics.write("eval", step=state.step, val_loss=result.loss, elapsed_s=state.elapsed_s)
        progress.note(
            f"step {state.step}: val loss {result.loss:.4f} ({bits_per_char(result.loss):.3f} bpc)"
            f"{', best so far' if improved else ''} [{result.seconds:.1f}s]"
        )
        return result.loss

    train_config = config.train
    # A run resumed from a checkpoint written at an evaluation need not evaluate that step again.
    last_val_loss = resume_from.val_loss if resume_from is not None else None
    last_eval_step = state.step if last_val_loss is not None else -1
    window = _Window()
    latest = {
        "loss": math.nan,
        "lr": lr_at(state.step, state.elapsed_s, train_config),
        "chars_per_s": 0.0,
    }
    clock_zero = time.perf_counter() - state.elapsed_s
    with (
        _stop_on_signals() as stop_signal,
        Progress(total_steps=train_config.max_steps, initial_step=state.step) as progress,
        _out_of_memory_is_a_user_error(config, device),
    ):
        while True:
            state.elapsed_s = time.perf_counter() - clock_zero
            stopped_by = _limit_reached(state, train_config)
            if stopped_by:
                break
            if stop_signal:
                state.elapsed_s = time.perf_counter() - clock_zero
                save(run_dir / LAST_NAME, None)
                raise _interrupted(stop_signal[0], state.step, run_dir)

            inputs, targets, epoch_starts = streams.window(state.step)
            if epoch_starts:
                state.hidden = None  # every stream jumps back to its start
            lr = lr_at(state.step, state.elapsed_s, train_config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, grad_norm, state.hidden = train_step(
                model,
                optimizer,
                inputs,
                targets,
                state.hidden,
                grad_clip=train_config.grad_clip,
                precision=train_config.precision,
            )
            state.step += 1
            window.loss_sum = loss if window.loss_sum is None else window.loss_sum + loss
            window.grad_norm = grad_norm
            window.steps += 1
            window.chars += inputs.numel()

            if state.step % train_config.log_every == 0:
                latest = _report(
                    window, state, lr, time.perf_counter() - clock_zero, metrics, progress
                )
                window = _Window()
            progress.step(**latest)
            if state.step % train_config.eval_every == 0:
                eval_started = time.perf_counter()
                state.elapsed_s = eval_started - clock_zero
                last_val_loss = evaluate_and_save(progress)
                last_eval_step = state.step
                window.started += time.perf_counter() - eval_started  # chars/s counts training only

        if window.steps:
            latest = _report(window, state, latest["lr"], state.elapsed_s, metrics, progress)
        if last_eval_step != state.step:
            last_val_loss = evaluate_and_save(progress)

    total_chars = state.step * train_config.batch_size * train_config.seq_len
    return TrainSummary(
        run_dir=run_dir,
        steps=state.step,
        elapsed_s=state.elapsed_s,
        best_val_loss=state.best_val_loss,
        last_val_loss=last_val_loss,
        stopped_by=stopped_by,
        parameters=count_parameters(model),
        chars_per_s=total_chars / state.elapsed_s if state.elapsed_s > 0 else 0.0,
    )


def _limit_reached(state: TrainState, config: TrainConfig) -> str:
    if config.max_steps is not None and state.step >= config.max_steps:
        return "max_steps"
    if config.max_time is not None and state.elapsed_s >= config.max_time:
        return "max_time"
    return ""


def _report(
    window: _Window,
    state: TrainState,
    lr: float,
    elapsed_s: float,
    metrics: MetricsLog,
    progress: Progress,
) -> dict[str, float]:
    assert window.loss_sum is not None and window.grad_norm is not None
    loss = window.loss_sum.item() / window.steps  # host sync, once per report
    grad_norm = window.grad_norm.item()
    seconds = time.perf_counter() - window.started
    chars_per_s = window.chars / seconds if seconds > 0 else 0.0
    metrics.write(
        "train",
        step=state.step,
        loss=loss,
        lr=lr,
        grad_norm=grad_norm,
        chars_per_s=chars_per_s,
        elapsed_s=elapsed_s,
    )
    progress.report(
        f"step {state.step} | loss {loss:.4f} | lr {lr:.2e} | grad norm {grad_norm:.2f} | "
        f"{chars_per_s:,.0f} chars/s | {elapsed_s:.0f}s"
    )
    return {"loss": loss, "lr": lr, "chars_per_s": chars_per_s}


def _prepare_run_dir(run_dir: Path, *, resuming: bool, overwrite: bool) -> Path:
    has_run = any((run_dir / name).exists() for name in (LAST_NAME, BEST_NAME))
    if has_run and not resuming:
        if not overwrite:
            raise CheckpointError(
                f"{run_dir} already holds a run; continue it with --resume, start over with "
                "--overwrite (deletes its checkpoints), or choose another --out-dir"
            )
        for name in (LAST_NAME, BEST_NAME, METRICS_NAME, CONFIG_NAME):
            (run_dir / name).unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(
            f"cannot create run directory {run_dir}: {error.strerror}; choose another --out-dir"
        ) from None
    return run_dir


def _check_same_corpus(checkpoint: Checkpoint, corpus: Corpus, vocab: CharVocab) -> None:
    stored = checkpoint.corpus.get("sha256")
    if stored is not None and stored != corpus.sha256:
        raise DataError(
            f"the corpus {corpus.name} has changed since this run started; resuming would train "
            "on other text; restore the file, or start a new run in another --out-dir"
        )
    if vocab != checkpoint.vocab:
        raise DataError(
            f"the corpus {corpus.name} no longer has the run's vocabulary; cannot resume"
        )


def _restore(
    checkpoint: Checkpoint, model: CharRNN, optimizer: torch.optim.Optimizer, device: torch.device
) -> TrainState:
    model.load_state_dict(checkpoint.model_state)
    if checkpoint.optimizer_state is not None:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    set_rng_state(checkpoint.rng, device)
    return TrainState(
        step=checkpoint.step,
        elapsed_s=checkpoint.elapsed_s,
        best_val_loss=checkpoint.best_val_loss,
        hidden=hidden_from_list(checkpoint.hidden, device),
    )


def _config_header(config: RunConfig) -> str:
    return (
        "# The resolved config of this run (defaults < YAML < --set < flags), written by charnn.\n"
        f"# Resume with: charnn train --resume --out-dir {config.out_dir}\n"
    )


def _log_start(
    config: RunConfig,
    corpus: Corpus,
    vocab: CharVocab,
    train_ids: torch.Tensor,
    model: CharRNN,
    device: torch.device,
    state: TrainState,
) -> None:
    m = config.model
    action = f"resuming at step {state.step}" if state.step else "training"
    logger.info(
        "%s %s %dx%d (%s parameters) on %s; corpus %s: %s chars, vocabulary %d, %s for training",
        action,
        m.cell.upper() if m.cell != "rnn" else "tanh RNN",
        m.num_layers,
        m.hidden_size,
        f"{count_parameters(model):,}",
        device,
        corpus.name,
        f"{len(corpus.text):,}",
        len(vocab),
        f"{len(train_ids):,}",
    )


def _interrupted(signal_number: int, step: int, run_dir: Path) -> TrainingInterrupted:
    name = signal.Signals(signal_number).name
    return TrainingInterrupted(
        f"stopped by {name} at step {step}; saved {run_dir / LAST_NAME}; "
        f"continue with: charnn train --resume --out-dir {run_dir}",
        signal_number=signal_number,
    )


@contextmanager
def _out_of_memory_is_a_user_error(config: RunConfig, device: torch.device) -> Iterator[None]:
    """An allocation failure becomes a message that says which settings to lower.

    The checkpoints already on disk are left as they are.
    """
    out_of_memory = False
    try:
        yield
    except torch.OutOfMemoryError:
        out_of_memory = True
    except RuntimeError as error:
        if "can't allocate memory" not in str(error):  # the CPU allocator's wording
            raise
        out_of_memory = True
    if out_of_memory:  # raised here, outside `except`, so no tensors stay alive in a traceback
        raise CharnnError(
            f"out of memory on {device} with train.batch_size={config.train.batch_size}, "
            f"train.seq_len={config.train.seq_len}, model.hidden_size={config.model.hidden_size}; "
            "lower train.batch_size first (then seq_len or hidden_size)"
        )


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """Turn Ctrl-C and SIGTERM into a flag that the loop checks between steps.

    Stopping between steps, never inside one, means the saved model and optimizer state always
    belong to the same step. A second Ctrl-C stops at once, the classic way.
    """
    received: list[int] = []

    def handler(signal_number: int, frame: object) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signal_number)

    previous = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
