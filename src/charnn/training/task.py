"""What the training loop asks of a task, and the language-model task: predicting the next
character. The other task, classifying whole texts, is in training/classification.py.

The loop (training/loop.py) steps, clocks, reports, evaluates and checkpoints; it does not know
what a batch holds or how a loss is computed. A task supplies that through `Task`: its batches,
its objective (forward pass and loss), its evaluation, and what its checkpoints must carry to
be used and resumed. Sequence classification is a second implementation of `Task`, not a fork
of the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import Checkpoint
from charnn.config import ModelConfig, RunConfig
from charnn.data.corpus import PreparedCorpus, prepare_corpus, split_ids
from charnn.data.streams import TrainStreams
from charnn.errors import key
from charnn.inference.evaluator import evaluate
from charnn.inference.sampler import sample_text
from charnn.model.cells import Hidden
from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.training.world import World


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor
    targets: torch.Tensor
    restarts: bool = False
    """The batch does not continue the previous one: a carried state must start over."""
    lengths: torch.Tensor | None = None
    """For texts of different lengths, right-padded in `inputs`: each row's length (B,)."""


class Objective(Protocol):
    """The forward pass (run under the precision policy's autocast) and the loss (outside it)."""

    def forward(
        self, model: torch.nn.Module, batch: Batch, state: Hidden | None
    ) -> tuple[torch.Tensor, Hidden | None]: ...

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor: ...


class NextCharacter:
    """Cross-entropy of each position's next-character logits; the state carries on."""

    def forward(
        self, model: torch.nn.Module, batch: Batch, state: Hidden | None
    ) -> tuple[torch.Tensor, Hidden | None]:
        logits, hidden = model(batch.inputs, state)  # (B, T, V)
        return logits, hidden

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        logits = output.float().reshape(-1, output.shape[-1])  # (B * T, V)
        return F.cross_entropy(logits, batch.targets.reshape(-1))


NEXT_CHARACTER = NextCharacter()


@dataclass(frozen=True)
class Evaluation:
    loss: float
    """The validation loss the run keeps its best checkpoint by (lower is better)."""
    seconds: float
    score: float
    """What early stopping and best.pt follow (higher is better): -loss, or accuracy."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Anything else the task measured, for metrics.jsonl."""


class Task(Protocol):
    objective: Objective
    vocab_size: int
    unit: str
    """What throughput counts (`chars`)."""
    units_per_step: int
    """How many `unit`s one step trains on, over every rank."""
    steps_per_epoch: int
    """Steps in one pass over the training split."""
    score_name: str
    """What `Evaluation.score` is, for messages: `val loss` or `val accuracy`."""

    def build_model(self, config: ModelConfig) -> CharRNN | CharClassifier:
        """The task's network, freshly initialised (on the CPU)."""
        ...

    def batch(self, step: int) -> Batch:
        """This rank's batch for `step` (a pure function of the step, so resuming repeats it)."""
        ...

    def units(self, batch: Batch) -> int:
        """How many `unit`s this rank's `batch` trains on."""
        ...

    def evaluate(self, model: torch.nn.Module) -> Evaluation:
        """Score the model on the validation data (called on rank 0 only)."""
        ...

    def checkpoint_fields(self) -> dict[str, Any]:
        """What a checkpoint must carry for this task besides the weights and the loop's state."""
        ...

    def check_resume(self, checkpoint: Checkpoint) -> None:
        """Refuse to resume a checkpoint made from other data."""
        ...

    def describe(self) -> str:
        """One phrase for the start-of-run log line."""
        ...

    def sample(self, model: torch.nn.Module, *, length: int, seed: int) -> str:
        """Text the model generates now (train.sample_every); a task that makes no text is
        never asked."""
        ...


class LanguageModelTask:
    """Next-character prediction over a corpus read as `batch_size` contiguous streams."""

    objective: Objective = NEXT_CHARACTER
    unit = "chars"
    score_name = "val loss"

    def __init__(self, config: RunConfig, world: World, device: torch.device) -> None:
        # One process fills the token cache; the others then map what it wrote.
        corpus = world.on_main(lambda: prepare_corpus(config.data)) or prepare_corpus(config.data)
        data, train = config.data, config.train
        splits = split_ids(
            corpus.ids, val_fraction=data.val_fraction, test_fraction=data.test_fraction
        )
        streams = TrainStreams(splits.train, batch_size=train.batch_size, seq_len=train.seq_len)
        self.corpus: PreparedCorpus = corpus
        self.vocab_size = len(corpus.vocab)
        self.units_per_step = train.batch_size * train.seq_len  # the global batch
        self.train_chars = len(splits.train)
        self.steps_per_epoch = streams.windows_per_epoch
        self._streams = streams.shard(world.rank, world.size).to(device)
        # Rank 0 scores the weights for every rank.
        val = splits.val[: train.eval_chars] if world.is_main else splits.val[:0]
        self._val_ids = val.to(device)

    def build_model(self, config: ModelConfig) -> CharRNN:
        return CharRNN(config, self.vocab_size)

    def batch(self, step: int) -> Batch:
        inputs, targets, epoch_starts = self._streams.window(step)
        return Batch(inputs, targets, restarts=epoch_starts)

    def units(self, batch: Batch) -> int:
        return batch.inputs.numel()

    def evaluate(self, model: torch.nn.Module) -> Evaluation:
        if not isinstance(model, CharRNN):
            raise TypeError(f"the language-model task scores a CharRNN, not {type(model)}")
        result = evaluate(model, self._val_ids)
        return Evaluation(loss=result.loss, seconds=result.seconds, score=-result.loss)

    def checkpoint_fields(self) -> dict[str, Any]:
        corpus = self.corpus
        return {
            "vocab": corpus.vocab,
            "corpus": {"name": corpus.name, "chars": len(corpus.ids), "sha256": corpus.sha256},
        }

    def check_resume(self, checkpoint: Checkpoint) -> None:
        checkpoint.check_corpus(
            self.corpus.name,
            self.corpus.sha256,
            self.corpus.vocab,
            fix="resuming would train on other text; restore the file, "
            f"or start a new run in another {key('out_dir')}",
        )

    def sample(self, model: torch.nn.Module, *, length: int, seed: int) -> str:
        if not isinstance(model, CharRNN):
            raise TypeError(f"the language-model task samples a CharRNN, not {type(model)}")
        was_training = model.training
        try:
            return sample_text(model, self.corpus.vocab, length=length, seed=seed)
        finally:
            model.train(was_training)

    def describe(self) -> str:
        corpus = self.corpus
        return (
            f"corpus {corpus.name}: {len(corpus.ids):,} chars, {self.train_chars:,} for "
            f"training, vocabulary {len(corpus.vocab)}"
        )
