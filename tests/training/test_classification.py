from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.config import config_from_dict
from charnn.training.classification import ClassificationTask, balanced_weights
from charnn.training.loop import build_task, train
from charnn.training.world import SINGLE_PROCESS, World

from ..conftest import tiny_classify_tree


def task(bits_file: Path, tmp_path: Path, world: World = SINGLE_PROCESS) -> ClassificationTask:
    config = config_from_dict(tiny_classify_tree(bits_file, tmp_path / "run"))
    return ClassificationTask(config, world, torch.device("cpu"))


def test_a_batch_is_a_pure_function_of_the_step(bits_file: Path, tmp_path: Path) -> None:
    first, second = task(bits_file, tmp_path), task(bits_file, tmp_path)
    for step in (0, 5, first.steps_per_epoch + 3, 2):  # out of order, across epochs
        a, b = first.batch(step), second.batch(step)
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
        assert a.lengths is not None and b.lengths is not None
        assert torch.equal(a.lengths, b.lengths)


def test_an_epoch_shows_every_example_once_in_batches_of_similar_length(
    bits_file: Path, tmp_path: Path
) -> None:
    classify = task(bits_file, tmp_path)
    count = len(classify.inputs.splits.train)
    assert classify.steps_per_epoch == -(-count // 16)
    seen: list[str] = []
    padded = real = 0
    for step in range(classify.steps_per_epoch):
        batch = classify.batch(step)
        assert batch.lengths is not None
        for row, length in zip(batch.inputs, batch.lengths.tolist(), strict=True):
            seen.append(classify.inputs.vocab.decode(row[:length]))
        padded += batch.inputs.numel()
        real += int(batch.lengths.sum())
    assert sorted(seen) == sorted(example.text for example in classify.inputs.splits.train)
    # Lengths 1 to 15: random batches would pad about half; bucketing pads little.
    assert padded / real < 1.1
    assert not torch.equal(
        classify.batch(0).targets, classify.batch(classify.steps_per_epoch).targets
    )


@pytest.mark.parametrize("suffix", [".tsv", ".npz"])
def test_under_torchrun_each_rank_takes_its_rows_of_full_batches(
    suffix: str, bits_file: Path, tmp_path: Path
) -> None:
    data = bits_file.with_suffix(suffix)
    whole = task(data, tmp_path)
    ranks = [task(data, tmp_path, World(rank=rank, size=2, local_rank=rank)) for rank in (0, 1)]
    assert ranks[0].steps_per_epoch == len(whole.inputs.splits.train) // 16
    batches = [rank.batch(0) for rank in ranks]
    assert [len(batch.targets) for batch in batches] == [8, 8]
    together = whole.batch(0)  # the ranks' rows are the one-process batch's, interleaved
    assert torch.equal(together.targets[0::2], batches[0].targets)
    assert torch.equal(together.targets[1::2], batches[1].targets)


def test_sequences_batch_as_float_values_with_their_lengths(
    bits_file: Path, tmp_path: Path
) -> None:
    values = task(bits_file.with_suffix(".npz"), tmp_path)
    batch = values.batch(0)
    assert batch.inputs.dtype == torch.float32 and batch.inputs.ndim == 3  # (B, T, 1)
    assert batch.lengths is not None and batch.inputs.shape[1] == int(batch.lengths.max())
    assert values.vocab_size == 0 and "sequences of 2 labels" in values.describe()
    config = config_from_dict(tiny_classify_tree(bits_file, tmp_path / "run"))
    model = values.build_model(config.model)
    mean = model.embedding.mean  # type: ignore[union-attr]
    assert 0.3 < float(mean[0]) < 0.7  # bits: about half ones, from the training split


def test_balanced_class_weights_make_every_class_weigh_the_same() -> None:
    weights = balanced_weights([30, 10])
    assert weights.tolist() == pytest.approx([40 / 60, 40 / 20])
    assert float(weights[0] * 30) == pytest.approx(float(weights[1] * 10))


def test_a_classifier_learns_the_majority_bit(trained_classifier: Path) -> None:
    best = load_checkpoint(trained_classifier / "best.pt")
    assert best.labels == ["ones", "zeros"] and best.config.task == "classify"
    records = [json.loads(line) for line in (trained_classifier / "metrics.jsonl").open()]
    evals = [r for r in records if r["event"] == "eval"]
    assert evals[-1]["val_accuracy"] >= 0.9 and evals[-1]["val_macro_f1"] >= 0.9
    assert all(r["examples_per_s"] > 0 for r in records if r["event"] == "train")
    assert best.best_score == max(r["val_accuracy"] for r in evals)


def test_early_stopping_keeps_the_best_and_stops(bits_file: Path, tmp_path: Path) -> None:
    tree = tiny_classify_tree(
        bits_file, tmp_path / "run", max_steps=400, eval_every=5, lr=1e-4, warmup_steps=0
    )
    tree["train"]["early_stopping_patience"] = 2  # type: ignore[index]
    tree["train"]["schedule"] = "constant"  # type: ignore[index]
    summary = train(config_from_dict(tree))
    assert summary.stopped_by == "early_stopping" and summary.steps < 400
    last = load_checkpoint(summary.run_dir / "last.pt")
    best = load_checkpoint(summary.run_dir / "best.pt")
    assert last.evals_since_best == 2 and best.step == last.step - 10
    # A resumed run that was stopped early stops again at once, unless given more patience.
    from charnn.training.resume import resume_config

    config, checkpoint = resume_config(None, [f"out_dir={summary.run_dir}"])
    assert train(config, resume_from=checkpoint).steps == summary.steps


@pytest.mark.parametrize("task_name", ["lm", "classify"])
def test_max_epochs_stops_after_whole_passes(
    bits_file: Path, corpus_file: Path, tmp_path: Path, task_name: str
) -> None:
    if task_name == "classify":
        tree = tiny_classify_tree(bits_file, tmp_path / "run", max_steps=None)
    else:
        tree = {**tiny_classify_tree(corpus_file, tmp_path / "run", max_steps=None), "task": "lm"}
        tree["train"]["batch_size"] = 4  # type: ignore[index]
    tree["train"]["max_epochs"] = 2  # type: ignore[index]
    config = config_from_dict(tree)
    per_epoch = build_task(config, SINGLE_PROCESS, torch.device("cpu")).steps_per_epoch
    if task_name == "classify":  # 540 training examples in batches of 16, the last partial
        assert per_epoch == 34
    summary = train(config)
    assert summary.stopped_by == "max_epochs" and summary.steps == 2 * per_epoch
