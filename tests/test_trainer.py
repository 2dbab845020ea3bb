from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest
import torch
import yaml

from charnn import trainer
from charnn.checkpoint import load_checkpoint
from charnn.config import RunConfig, TrainConfig, config_from_dict
from charnn.errors import CharnnError, CheckpointError, ConfigError, DataError, TrainingInterrupted
from charnn.metrics import METRIC_KEYS
from charnn.model import CharRNN
from charnn.trainer import build_optimizer, resume_config, train, train_step

from .conftest import PATTERNED_TEXT, tiny_tree, unigram_entropy


def test_weight_decay_applies_to_matrices_only(tiny_config: RunConfig) -> None:
    model = CharRNN(tiny_config.model, vocab_size=10)
    optimizer = build_optimizer(model, TrainConfig(weight_decay=0.1), torch.device("cpu"))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])


def test_train_step_clips_the_global_norm_and_reports_it_unclipped(tiny_config: RunConfig) -> None:
    torch.manual_seed(0)
    model = CharRNN(tiny_config.model, vocab_size=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: inspect grads, keep weights
    inputs, targets = torch.randint(0, 10, (4, 8)), torch.randint(0, 10, (4, 8))
    loss, norm, hidden = train_step(
        model, optimizer, inputs, targets, None, grad_clip=1e-3, precision="fp32"
    )
    grads = [p.grad for p in model.parameters()]
    assert norm.item() > 1e-3
    assert torch.nn.utils.get_total_norm(grads).item() == pytest.approx(1e-3, rel=1e-4)
    assert loss.item() == pytest.approx(math.log(10), rel=0.2)  # an untrained model is near uniform
    assert not any(part.requires_grad for part in hidden)
    _, unclipped, _ = train_step(
        model, optimizer, inputs, targets, None, grad_clip=0.0, precision="fp32"
    )
    assert unclipped.item() == pytest.approx(norm.item(), rel=1e-5)
    assert torch.nn.utils.get_total_norm(
        [p.grad for p in model.parameters()]
    ).item() == pytest.approx(unclipped.item(), rel=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_each_cell_learns_far_below_the_unigram_entropy(
    corpus_file: Path, tmp_path: Path, cell: str
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / cell, max_steps=150, eval_every=150, lr=2e-2)
    tree["model"]["cell"] = cell  # type: ignore[index]
    summary = train(config_from_dict(tree))
    entropy = unigram_entropy(PATTERNED_TEXT)
    assert summary.steps == 150 and summary.stopped_by == "max_steps"
    assert summary.best_val_loss is not None
    assert summary.best_val_loss < 0.25 * entropy, (summary.best_val_loss, entropy)


def test_the_run_directory_holds_config_checkpoints_and_metrics(tiny_config: RunConfig) -> None:
    summary = train(tiny_config)
    run = summary.run_dir
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt",
        "config.yaml",
        "last.pt",
        "metrics.jsonl",
    ]
    assert config_from_dict(yaml.safe_load((run / "config.yaml").read_text())) == tiny_config
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(set(record) == {"event", *METRIC_KEYS} for record in records)
    train_records = [r for r in records if r["event"] == "train"]
    eval_records = [r for r in records if r["event"] == "eval"]
    assert [r["step"] for r in train_records] == [10, 20, 30, 40]
    assert [r["step"] for r in eval_records] == [20, 40]
    assert all(r["chars_per_s"] > 0 and r["grad_norm"] > 0 and r["lr"] > 0 for r in train_records)
    best, last = load_checkpoint(run / "best.pt"), load_checkpoint(run / "last.pt")
    assert last.step == 40
    assert best.val_loss == min(r["val_loss"] for r in eval_records) == summary.best_val_loss
    assert last.corpus["chars"] == len(PATTERNED_TEXT)
    assert last.optimizer_state is not None and last.hidden


def interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Send this process SIGTERM during the given training step (1-based)."""
    original = trainer.train_step
    calls = []

    def step_then_signal(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGTERM)  # handled between steps, like a real kill
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "train_step", step_then_signal)


def test_resume_continues_bit_for_bit(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N steps in one go, or stopped part-way and resumed: the same weights and losses."""
    tree = tiny_tree(corpus_file, tmp_path / "whole", max_steps=40)
    tree["model"]["dropout"] = 0.2  # type: ignore[index]  # draws random numbers every step
    whole = train(config_from_dict(tree))
    # Stop mid-epoch (an epoch is 26 windows here) and between evaluations (every 20 steps).
    tree["out_dir"] = str(tmp_path / "halves")
    interrupt_at(monkeypatch, 17)
    with pytest.raises(TrainingInterrupted):
        train(config_from_dict(tree))
    monkeypatch.undo()
    config, checkpoint = resume_config(None, [f"out_dir={tmp_path / 'halves'}"])
    assert checkpoint.step == 17
    resumed = train(config, resume_from=checkpoint)
    assert resumed.steps == whole.steps == 40
    a = load_checkpoint(whole.run_dir / "last.pt").model_state
    b = load_checkpoint(resumed.run_dir / "last.pt").model_state
    for name in a:
        assert torch.equal(a[name], b[name]), name

    def losses(run: Path) -> dict[tuple[str, int], float]:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return {
            (r["event"], r["step"]): r["loss"] if r["event"] == "train" else r["val_loss"]
            for r in records
        }

    whole_losses, resumed_losses = losses(whole.run_dir), losses(resumed.run_dir)
    # Logged steps after the resume point agree exactly; the log window 11-20 straddles the stop.
    for key in [("train", 30), ("train", 40), ("eval", 20), ("eval", 40)]:
        assert whole_losses[key] == resumed_losses[key], key


def test_resume_refuses_model_and_data_changes_but_takes_training_changes(
    tiny_config: RunConfig, caplog: pytest.LogCaptureFixture
) -> None:
    train(tiny_config)
    out = f"out_dir={tiny_config.out_dir}"
    with pytest.raises(
        ConfigError, match=r"cannot resume with model.hidden_size changed \(32 -> 64\)"
    ):
        resume_config(None, [out, "model.hidden_size=64"])
    with pytest.raises(ConfigError, match=r"cannot resume with train\.batch_size changed"):
        resume_config(None, [out, "train.batch_size=8"])
    with caplog.at_level("INFO", logger="charnn"):
        config, _ = resume_config(None, [out, "train.max_steps=60", "train.lr=0.005"])
    assert config.train.max_steps == 60 and config.train.lr == 0.005
    assert "train.max_steps changed: 40 -> 60" in caplog.text


def test_resume_without_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nothing to resume"):
        resume_config(None, [f"out_dir={tmp_path}"])


def test_resume_refuses_a_changed_corpus(tiny_config: RunConfig, corpus_file: Path) -> None:
    train(tiny_config)
    corpus_file.write_text(PATTERNED_TEXT.replace("fox", "cat"), encoding="utf-8")
    config, checkpoint = resume_config(
        None, [f"out_dir={tiny_config.out_dir}", "train.max_steps=50"]
    )
    with pytest.raises(DataError, match="has changed since this run trained on it"):
        train(config, resume_from=checkpoint)


def test_a_finished_run_is_not_overwritten_by_accident(tiny_config: RunConfig) -> None:
    train(tiny_config)
    before = load_checkpoint(Path(tiny_config.out_dir) / "last.pt")
    with pytest.raises(CheckpointError, match="already holds a run; continue it with --resume"):
        train(tiny_config)
    assert (
        load_checkpoint(Path(tiny_config.out_dir) / "last.pt").model_state.keys()
        == before.model_state.keys()
    )
    summary = train(tiny_config, overwrite=True)
    assert summary.steps == 40
    assert len((Path(tiny_config.out_dir) / "metrics.jsonl").read_text().splitlines()) == 6


def test_max_time_stops_training(corpus_file: Path, tmp_path: Path) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "timed", max_steps=None, max_time=0.5)
    summary = train(config_from_dict(tree))
    assert summary.stopped_by == "max_time"
    assert 0.5 <= summary.elapsed_s < 5
    assert (summary.run_dir / "best.pt").is_file()


def test_a_signal_saves_last_and_says_how_to_resume(
    tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_at(monkeypatch, 7)
    with pytest.raises(
        TrainingInterrupted, match=r"stopped by SIGTERM at step 7.*--resume"
    ) as caught:
        train(tiny_config)
    assert caught.value.exit_code == 128 + signal.SIGTERM
    assert load_checkpoint(Path(tiny_config.out_dir) / "last.pt").step == 7
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_corpus_too_short_for_one_batch(tmp_path: Path) -> None:
    corpus = tmp_path / "short.txt"
    corpus.write_text("abcdefghij" * 5, encoding="utf-8")
    config = config_from_dict(tiny_tree(corpus, tmp_path / "run"))
    with pytest.raises(
        DataError, match=r"too few for one batch.*lower train\.batch_size or train\.seq_len"
    ):
        train(config)


def test_progress_lines_in_a_non_interactive_log(
    tiny_config: RunConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="charnn"):
        train(tiny_config)
    lines = caplog.text
    assert "training LSTM 1x32" in lines
    assert "step 10 | loss" in lines and "chars/s" in lines
    assert "step 40: val loss" in lines


OUT_OF_MEMORY = r"out of memory on cpu with train\.batch_size=4.*lower train\.batch_size"


@pytest.mark.parametrize(
    ("failure", "expected", "message"),
    [
        (torch.OutOfMemoryError("CUDA out of memory."), CharnnError, OUT_OF_MEMORY),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), CharnnError, OUT_OF_MEMORY),
        (RuntimeError("a bug"), RuntimeError, "a bug"),  # other errors keep their traceback
    ],
)
def test_out_of_memory_names_the_settings_to_lower(
    tiny_config: RunConfig,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    expected: type[Exception],
    message: str,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(trainer, "train_step", fail)
    with pytest.raises(expected, match=message) as caught:
        train(tiny_config)
    assert type(caught.value) is expected


def test_the_cuda_optimizer_is_fused(tiny_config: RunConfig) -> None:
    model = CharRNN(tiny_config.model, vocab_size=10)
    assert build_optimizer(model, tiny_config.train, torch.device("cuda")).defaults["fused"] is True
    assert not build_optimizer(model, tiny_config.train, torch.device("cpu")).defaults["fused"]


def test_bf16_on_cpu_trains_in_fp32_with_a_warning(
    corpus_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=5, precision="bf16")
    with caplog.at_level("WARNING", logger="charnn"):
        train(config_from_dict(tree))
    assert "applies on CUDA only" in caplog.text
    state = load_checkpoint(tmp_path / "run" / "last.pt").model_state
    assert all(tensor.dtype == torch.float32 for tensor in state.values())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_on_cuda_then_sample_and_score_on_cpu(
    corpus_file: Path, tmp_path: Path, precision: str
) -> None:
    from charnn.evaluator import evaluate_checkpoint
    from charnn.sampler import sample_text

    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=60, precision=precision)
    tree["device"] = "cuda"
    summary = train(config_from_dict(tree))
    checkpoint = load_checkpoint(summary.run_dir / "best.pt")
    assert checkpoint.device.startswith("cuda")
    cpu = torch.device("cpu")
    result = evaluate_checkpoint(checkpoint, device=cpu)
    assert result.loss == pytest.approx(checkpoint.val_loss, rel=1e-3)
    assert (
        len(sample_text(checkpoint.build_model(cpu), checkpoint.vocab, prime="the", length=20))
        == 23
    )
