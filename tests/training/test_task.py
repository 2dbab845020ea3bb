"""The language-model task: its batches, objective, evaluation and checkpoint fields."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charnn.config import RunConfig
from charnn.data.corpus import prepare_corpus, split_ids
from charnn.model.network import CharRNN
from charnn.training.task import NEXT_CHARACTER, Batch, LanguageModelTask
from charnn.training.world import SINGLE_PROCESS


def test_batches_are_the_streams_windows_and_restart_each_epoch(tiny_config: RunConfig) -> None:
    task = LanguageModelTask(tiny_config, SINGLE_PROCESS, torch.device("cpu"))
    train = tiny_config.train
    first = task.batch(0)
    assert first.restarts and first.inputs.shape == (train.batch_size, train.seq_len)
    assert torch.equal(first.inputs[:, 1:], first.targets[:, :-1])  # the next character
    assert not task.batch(1).restarts
    assert task.units(first) == train.batch_size * train.seq_len == task.units_per_step
    # The corpus's training split, read as contiguous streams: row 0 starts the text.
    corpus = prepare_corpus(tiny_config.data)
    splits = split_ids(corpus.ids, val_fraction=0.1, test_fraction=0.0)
    assert torch.equal(first.inputs[0], splits.train[: train.seq_len].long())


def test_the_objective_is_the_next_character_cross_entropy() -> None:
    logits = torch.randn(2, 3, 5)
    batch = Batch(torch.zeros(2, 3, dtype=torch.long), torch.randint(0, 5, (2, 3)))
    expected = F.cross_entropy(logits.reshape(-1, 5), batch.targets.reshape(-1))
    torch.testing.assert_close(NEXT_CHARACTER.loss(logits, batch), expected)


def test_evaluation_and_what_checkpoints_carry(tiny_config: RunConfig) -> None:
    task = LanguageModelTask(tiny_config, SINGLE_PROCESS, torch.device("cpu"))
    model = CharRNN(tiny_config.model, task.vocab_size)
    evaluation = task.evaluate(model)
    assert evaluation.loss > 0 and evaluation.seconds >= 0
    fields = task.checkpoint_fields()
    assert fields["vocab"] == task.corpus.vocab
    assert fields["corpus"]["sha256"] == task.corpus.sha256
    assert f"vocabulary {task.vocab_size}" in task.describe()
