"""The classification task: one label for each whole text, or each sequence of numbers, as a
second implementation of `Task`. What the examples are (training/inputs.py) is all that differs.

Each epoch shuffles the training examples by (train.seed, epoch), then groups examples of
similar length into batches so that padding stays small, and shuffles the order of the batches:

    shuffled   [e7 e2 e9 e4 e1 e8 ...]     pools of BUCKET_POOL batches,
    pool       sorted by length, cut into batches of train.batch_size,
    batches    in a shuffled order; a last, partial batch ends the epoch.

A step's batch is a pure function of the step, so a resumed run draws the very batches the
first one would have.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import Checkpoint
from charnn.config import ModelConfig, RunConfig
from charnn.data.sequences import names_a_download, names_sequences, sequence_file
from charnn.errors import DataError, key
from charnn.model.cells import Hidden
from charnn.model.classifier import CharClassifier
from charnn.training.inputs import SequenceInputs, TextInputs
from charnn.training.task import Batch, Evaluation, Objective
from charnn.training.world import World

logger = logging.getLogger(__name__)

BUCKET_POOL = 50
"""Batches' worth of shuffled examples sorted by length together: more pads less, fewer keeps
the batches' contents more random."""


class WholeText:
    """Cross-entropy of one label per text (optionally weighted by class); no state carries."""

    def __init__(self, class_weights: torch.Tensor | None = None) -> None:
        self.class_weights = class_weights

    def forward(
        self, model: torch.nn.Module, batch: Batch, state: Hidden | None
    ) -> tuple[torch.Tensor, Hidden | None]:
        return model(batch.inputs, batch.lengths), None  # (B, C)

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(output.float(), batch.targets, weight=self.class_weights)


def balanced_weights(counts: list[int]) -> torch.Tensor:
    """examples / (classes x the class's examples): every class weighs as much in the loss."""
    total = sum(counts)
    return torch.tensor([total / (len(counts) * count) for count in counts], dtype=torch.float32)


class ClassificationTask:
    unit = "examples"
    score_name = "val accuracy"

    def __init__(self, config: RunConfig, world: World, device: torch.device) -> None:
        data, train = config.data, config.train
        if data.tokenizer != "chars":
            raise DataError(
                f"task: classify reads characters; drop {key('data.tokenizer', data.tokenizer)}"
            )
        if names_sequences(data.path):
            if names_a_download(data.path):
                # Rank 0 downloads a named source (mnist) first; the others then find it cached.
                world.on_main(lambda: sequence_file(str(data.path)))
            self.inputs: TextInputs | SequenceInputs = SequenceInputs(config)
        else:
            self.inputs = TextInputs(config)
        self.labels = self.inputs.labels
        self.vocab_size = self.inputs.vocab_size
        index = {label: i for i, label in enumerate(self.labels)}
        self._encoded = self.inputs.train
        self._lengths = self.inputs.train.lengths
        self._targets = torch.tensor([index[label] for label in self.inputs.train_labels])
        self._seed, self._batch_size, self._world, self._device = (
            train.seed,
            train.batch_size,
            world,
            device,
        )
        count = len(self._lengths)
        if world.distributed and count < train.batch_size:
            raise DataError(
                f"{count} training examples are fewer than {key('train.batch_size')} "
                f"({train.batch_size}); lower it"
            )
        # Under torchrun every rank needs rows: the last, partial batch is dropped there.
        self.steps_per_epoch = (
            count // train.batch_size if world.distributed else math.ceil(count / train.batch_size)
        )
        self.units_per_step = min(train.batch_size, count)
        weights = None
        if train.class_weights == "balanced":
            counts = Counter(self.inputs.train_labels)
            weights = balanced_weights([counts[label] for label in self.labels]).to(device)
        self.objective: Objective = WholeText(weights)
        self._epoch_plan: tuple[int, list[np.ndarray]] | None = None
        self.baseline_score: float | None = None
        """The n-gram baseline's validation accuracy (None: no baseline, or not evaluated)."""

    def build_model(self, config: ModelConfig) -> CharClassifier:
        return self.inputs.build_model(config)

    def _plan(self, epoch: int) -> list[np.ndarray]:
        """The batches of `epoch`, as rows of the training examples."""
        if self._epoch_plan is not None and self._epoch_plan[0] == epoch:
            return self._epoch_plan[1]
        rng = np.random.default_rng([self._seed, epoch])
        order = rng.permutation(len(self._lengths))
        pool = self._batch_size * BUCKET_POOL
        batches: list[np.ndarray] = []
        for first in range(0, len(order), pool):
            chunk = order[first : first + pool]
            chunk = chunk[np.argsort(self._lengths[chunk], kind="stable")]
            batches.extend(
                chunk[start : start + self._batch_size]
                for start in range(0, len(chunk), self._batch_size)
            )
        # Only the last pool's last batch can be partial: it ends the epoch, and under
        # torchrun, where every rank needs rows, it is left out.
        full = [rows for rows in batches if len(rows) == self._batch_size]
        partial = [] if self._world.distributed else batches[len(full) :]
        self._epoch_plan = (epoch, [full[i] for i in rng.permutation(len(full))] + partial)
        return self._epoch_plan[1]

    def batch(self, step: int) -> Batch:
        epoch, index = divmod(step, self.steps_per_epoch)
        rows = self._plan(epoch)[index]
        world = self._world
        rows = rows[world.rank :: world.size]  # this rank's share of the global batch
        lengths = self._lengths[rows]
        inputs = self._encoded.batch(rows)
        device = self._device
        return Batch(
            inputs.to(device, non_blocking=True),
            self._targets[torch.from_numpy(rows)].to(device, non_blocking=True),
            restarts=True,
            lengths=torch.from_numpy(lengths).to(device, non_blocking=True),
        )

    def units(self, batch: Batch) -> int:
        return int(batch.targets.numel())

    def evaluate(self, model: torch.nn.Module) -> Evaluation:
        if not isinstance(model, CharClassifier):
            raise TypeError(f"the classification task scores a CharClassifier, not {type(model)}")
        result = self.inputs.score_val(model)
        metrics = {"val_accuracy": result.accuracy, "val_macro_f1": result.macro_f1}
        if result.baseline is not None:
            self.baseline_score = result.baseline["accuracy"]
            metrics["baseline_val_accuracy"] = result.baseline["accuracy"]
            metrics["baseline_val_macro_f1"] = result.baseline["macro_f1"]
        if result.mix_weight is not None:
            metrics["mix_weight"] = result.mix_weight
        return Evaluation(
            loss=result.loss, seconds=result.seconds, score=result.accuracy, metrics=metrics
        )

    def checkpoint_fields(self) -> dict[str, Any]:
        return {"labels": list(self.labels), **self.inputs.checkpoint_fields()}

    def check_resume(self, checkpoint: Checkpoint) -> None:
        fix = (
            "resuming would train on other examples; restore the data, "
            f"or start a new run in another {key('out_dir')}"
        )
        self.inputs.check_resume(checkpoint, fix)
        if checkpoint.labels != self.labels:
            raise DataError(f"the labels of {self.inputs.name} have changed; {fix}")

    def sample(self, model: torch.nn.Module, *, length: int, seed: int) -> str:
        raise TypeError("a classifier generates no text (the config refuses train.sample_every)")

    def describe(self) -> str:
        return self.inputs.describe()
