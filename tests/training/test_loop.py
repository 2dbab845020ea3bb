from __future__ import annotations

import copy
import errno
import itertools
import json
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from charnn.artifacts.checkpoint import load_checkpoint, save_checkpoint
from charnn.artifacts.jsonl import JsonLines
from charnn.artifacts.metrics import METRIC_KEYS, MetricsLog
from charnn.artifacts.run_dir import training_lock
from charnn.config import ModelConfig, RunConfig, config_from_dict
from charnn.errors import (
    CharnnError,
    CheckpointError,
    ConfigError,
    DataError,
    TrainingDiverged,
    TrainingInterrupted,
)
from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.platform import atomic
from charnn.training import loop as trainer
from charnn.training.limits import Limits
from charnn.training.loop import train
from charnn.training.resume import resume_config
from charnn.training.step import build_optimizer

from ..conftest import PATTERNED_TEXT, tiny_classify_tree, tiny_tree, unigram_entropy


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
        ".lock",
        "best.pt",
        "config.yaml",
        "last.pt",
        "metrics.jsonl",
        "status.json",
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


def tiny_task_tree(
    task: str, corpus_file: Path, bits_file: Path, out_dir: Path, **train: object
) -> dict[str, object]:
    """The tiny config of either task: the patterned corpus, or the majority-bit examples (as
    text, or as numbers: `values`)."""
    if task == "values":
        return tiny_classify_tree(bits_file.with_suffix(".npz"), out_dir, **train)
    if task == "classify":
        return tiny_classify_tree(bits_file, out_dir, **train)
    return tiny_tree(corpus_file, out_dir, **train)


@pytest.mark.parametrize("task", ["lm", "classify", "values"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16: the LSTM's state comes out bf16
def test_resume_continues_bit_for_bit(
    corpus_file: Path,
    bits_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    precision: str,
    task: str,
) -> None:
    """N steps in one go, or stopped part-way and resumed: the same weights and losses."""
    tree = tiny_task_tree(
        task,
        corpus_file,
        bits_file,
        tmp_path / "whole",
        max_steps=40,
        log_every=1,
        precision=precision,
    )
    tree["model"]["dropout"] = 0.2  # type: ignore[index]  # draws random numbers every step
    whole = train(config_from_dict(tree))
    # Stop mid-epoch (an epoch is 64 windows, or 34 batches, here) and between evaluations.
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

    # Every step's loss (logged every step here) and every evaluation agree exactly.
    assert losses(whole.run_dir) == losses(resumed.run_dir)
    assert len(losses(whole.run_dir)) == 40 + 2


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


@pytest.mark.parametrize(("first", "then"), [("bf16", "fp32"), ("fp32", "bf16")])
def test_resume_may_change_the_precision(
    corpus_file: Path, tmp_path: Path, first: str, then: str
) -> None:
    """An LSTM under CPU autocast computes its state in bf16; the run carries and saves it in
    fp32 (exact), so a resume in either precision takes it."""
    tree = tiny_tree(corpus_file, tmp_path / "run", max_steps=10, precision=first)
    train(config_from_dict(tree))
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert [part.dtype for part in checkpoint.hidden] == [torch.float32, torch.float32]
    config, checkpoint = resume_config(
        None, [f"out_dir={tmp_path / 'run'}", "train.max_steps=15", f"train.precision={then}"]
    )
    assert train(config, resume_from=checkpoint).steps == 15


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
    with pytest.raises(CheckpointError, match="already holds a run; continue it with resume"):
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


def test_max_time_counts_the_time_of_earlier_sessions(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "timed", max_steps=None, max_time=30.0)
    interrupt_at(monkeypatch, 5)
    with pytest.raises(TrainingInterrupted):
        train(config_from_dict(tree))
    monkeypatch.undo()
    # Pretend the first session had already used 29.9 of its 30 seconds.
    last = tmp_path / "timed" / "last.pt"
    raw = torch.load(last, weights_only=True)
    checkpoint = load_checkpoint(last)
    checkpoint.elapsed_s = 29.9
    save_checkpoint(last, checkpoint)
    config, checkpoint = resume_config(None, [f"out_dir={tmp_path / 'timed'}"])
    summary = train(config, resume_from=checkpoint)
    assert summary.stopped_by == "max_time"
    assert 30.0 <= summary.elapsed_s < 35.0  # not 30 more seconds
    assert raw["elapsed_s"] < 29.9
    # A budget already spent: resuming stops at once, with nothing more to train.
    config, checkpoint = resume_config(None, [f"out_dir={tmp_path / 'timed'}"])
    again = train(config, resume_from=checkpoint)
    assert again.steps == summary.steps and again.stopped_by == "max_time"


def poison_steps(monkeypatch: pytest.MonkeyPatch, steps: set[int]) -> None:
    """Make the training loss NaN at the given steps (1-based), as a diverging run would."""
    calls: list[int] = []

    def poisoned(original: Any) -> Any:
        def forward(self: torch.nn.Module, *args: Any) -> Any:
            output = original(self, *args)
            if self.training:
                calls.append(1)
                if len(calls) in steps:
                    if isinstance(output, tuple):  # CharRNN: (logits, hidden)
                        return output[0] * float("nan"), output[1]
                    return output * float("nan")  # CharClassifier: logits
            return output

        return forward

    monkeypatch.setattr(CharRNN, "forward", poisoned(CharRNN.forward))
    monkeypatch.setattr(CharClassifier, "forward", poisoned(CharClassifier.forward))


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_a_run_skips_a_few_bad_steps_and_counts_them(
    corpus_file: Path,
    bits_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    task: str,
) -> None:
    poison_steps(monkeypatch, {7, 8, 25})
    with caplog.at_level("WARNING", logger="charnn"):
        summary = train(
            config_from_dict(tiny_task_tree(task, corpus_file, bits_file, tmp_path / "run"))
        )
    assert summary.steps == 40 and summary.best_val_loss is not None
    assert "step 7 skipped: loss nan" in caplog.text and "(2 in a row)" in caplog.text
    records = [json.loads(line) for line in (summary.run_dir / "metrics.jsonl").open()]
    train_records = [r for r in records if r["event"] == "train"]
    assert [r["skipped_steps"] for r in train_records] == [2, 2, 3, 3]
    assert all(math.isfinite(r["loss"]) for r in train_records)  # skipped losses left out
    last = load_checkpoint(summary.run_dir / "last.pt")
    assert last.skipped_steps == 3 and last.consecutive_skips == 0
    assert last.config.task == task


def test_too_many_bad_steps_in_a_row_stop_the_run_keeping_the_last_good_checkpoint(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "run", max_consecutive_skips=3, eval_every=10)
    poison_steps(monkeypatch, set(range(15, 41)))
    with pytest.raises(
        TrainingDiverged,
        match=r"not finite for 4 steps in a row \(up to step 18, train\.max_consecutive_skips=3\)"
        r".*last good checkpoint is .*last\.pt \(step 10\)"
        r".*resume=True out_dir=.*train\.lr=<lower>",
    ) as caught:
        train(config_from_dict(tree))
    assert caught.value.exit_code == 3
    assert load_checkpoint(tmp_path / "run" / "last.pt").step == 10
    assert load_checkpoint(tmp_path / "run" / "best.pt").step == 10


def test_non_finite_weights_stop_the_run_before_they_are_saved(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update can overflow the weights even from finite gradients (an absurd lr)."""
    original = trainer.train_step
    calls: list[int] = []

    def overflowing_step(model: CharRNN, *args: object, **kwargs: object) -> object:
        result = original(model, *args, **kwargs)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 25:
            with torch.no_grad():
                model.head.bias.fill_(float("inf"))
        return result

    monkeypatch.setattr(trainer, "train_step", overflowing_step)
    # Tolerate the skipped steps that follow, so that the check at saving time is what stops it.
    tree = tiny_tree(corpus_file, tmp_path / "run", max_consecutive_skips=100)
    with pytest.raises(TrainingDiverged, match=r"weights are not finite.*at step 40.*\(step 20\)"):
        train(config_from_dict(tree))
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last.step == 20 and all(torch.isfinite(t).all() for t in last.model_state.values())


def test_a_failed_checkpoint_write_stops_the_run_and_keeps_the_previous_one(
    tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full or a folder turned read-only, after the first checkpoints were written."""
    real_open = os.open
    saves: list[str] = []

    def open_that_fails_late(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(".tmp") and ".pt." in str(path):  # checkpoints, not status
            saves.append(str(path))
            if len(saves) > 2:  # best.pt and last.pt at step 20 succeed
                raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "open", open_that_fails_late)
    with pytest.raises(
        CheckpointError, match=r"could not write checkpoint .*Read-only file system.*is intact"
    ):
        train(tiny_config)
    monkeypatch.undo()
    assert load_checkpoint(Path(tiny_config.out_dir) / "last.pt").step == 20
    assert not list(Path(tiny_config.out_dir).glob(".*.tmp"))


def test_a_run_directory_in_use_is_refused(tiny_config: RunConfig) -> None:
    in_use = rf"in use by another charnn train \(pid {os.getpid()} on "
    with training_lock(Path(tiny_config.out_dir)), pytest.raises(CheckpointError, match=in_use):
        train(tiny_config)
    assert train(tiny_config).steps == 40  # released when the holder let go


def test_a_signal_saves_last_and_says_how_to_resume(
    tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_at(monkeypatch, 7)
    with pytest.raises(
        TrainingInterrupted, match=r"stopped by SIGTERM at step 7.*resume=True out_dir="
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


@pytest.mark.parametrize(
    ("task", "cell", "core_dtype"),
    [
        ("lm", "lstm", "bfloat16"),
        ("lm", "rnn", "float32"),
        ("classify", "lstm", "bfloat16"),
        ("values", "lstm", "bfloat16"),
    ],
)
def test_bf16_on_cpu_trains_under_autocast_and_keeps_fp32_weights(
    corpus_file: Path,
    bits_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    task: str,
    cell: str,
    core_dtype: str,
) -> None:
    tree = tiny_task_tree(
        task,
        corpus_file,
        bits_file,
        tmp_path / "bf16",
        max_steps=80,
        eval_every=80,
        precision="bf16",
    )
    tree["model"]["cell"] = cell  # type: ignore[index]
    with caplog.at_level("INFO", logger="charnn"):
        bf16 = train(config_from_dict(tree))
    # CPU autocast runs nn.LSTM in bf16; SimpleRNN keeps its recurrence in fp32.
    assert f"the recurrent layers' output is {core_dtype}" in caplog.text
    tree["out_dir"], tree["train"]["precision"] = str(tmp_path / "fp32"), "fp32"  # type: ignore[index]
    fp32 = train(config_from_dict(tree))
    bf16_state = load_checkpoint(bf16.run_dir / "last.pt").model_state
    fp32_state = load_checkpoint(fp32.run_dir / "last.pt").model_state
    assert all(tensor.dtype == torch.float32 for tensor in bf16_state.values())
    # Autocast changed the arithmetic (other weights), not what is learnt (the same val loss,
    # to bf16's precision; both evaluated in fp32).
    assert any(not torch.equal(bf16_state[name], fp32_state[name]) for name in fp32_state)
    assert fp32.last_val_loss is not None and bf16.last_val_loss is not None
    if task == "lm":
        assert fp32.last_val_loss < 2.0  # learnt: from ~2.9
        assert bf16.last_val_loss == pytest.approx(fp32.last_val_loss, abs=0.02)
    else:  # learnt: from ln 2 = 0.69
        assert max(fp32.last_val_loss, bf16.last_val_loss) < 0.45


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_on_cuda_then_sample_and_score_on_cpu(
    corpus_file: Path, tmp_path: Path, precision: str
) -> None:
    from charnn.inference.evaluator import evaluate_checkpoint
    from charnn.inference.sampler import sample_text

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


def gru_tree(corpus: Path, out_dir: Path, **train: object) -> dict[str, object]:
    tree = tiny_tree(corpus, out_dir, max_steps=12, eval_every=6, log_every=1, **train)
    tree["model"]["cell"] = "gru"  # type: ignore[index]
    return tree


@pytest.mark.usefixtures("fresh_dynamo")
def test_a_compiled_run_trains_as_the_eager_one_and_saves_the_same_names(
    corpus_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The `eager` backend: TorchDynamo traces the model (RNN modules included) and runs the
    # captured graph as it is, so this needs no C++ compiler and the losses match exactly.
    monkeypatch.setattr("charnn.platform.compile.COMPILE_BACKEND", "eager")
    plain = train(config_from_dict(gru_tree(corpus_file, tmp_path / "plain")))
    with caplog.at_level("INFO", logger="charnn.training.loop"):
        compiled = train(
            config_from_dict(gru_tree(corpus_file, tmp_path / "compiled", compile=True))
        )
    assert "counts toward train.max_time" in caplog.text  # the slow first steps are explained
    assert "only the GRU gained" not in caplog.text
    assert compiled.steps == plain.steps == 12
    losses = [
        [r["loss"] for r in MetricsLog(run / "metrics.jsonl").read() if r["event"] == "train"]
        for run in (plain.run_dir, compiled.run_dir)
    ]
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)
    saved = load_checkpoint(compiled.run_dir / "last.pt")
    assert saved.model_state.keys() == load_checkpoint(plain.run_dir / "last.pt").model_state.keys()
    assert saved.config.train.compile is True


@pytest.mark.usefixtures("fresh_dynamo")
def test_a_failing_compile_is_one_clear_error(
    corpus_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def no_compiler(graph: object, inputs: object) -> object:
        raise RuntimeError("Compiler: cc is not found")

    monkeypatch.setattr("charnn.platform.compile.COMPILE_BACKEND", no_compiler)
    config = config_from_dict(tiny_tree(corpus_file, tmp_path / "run", compile=True))
    assert config.model.cell == "lstm"
    with (
        caplog.at_level("WARNING", logger="charnn.training.loop"),
        pytest.raises(CharnnError, match=r"train.compile=true, but torch.compile could not") as e,
    ):
        train(config)
    assert "cc is not found" in str(e.value) and "set train.compile=false" in str(e.value)
    # An LSTM is told that compiling made it slower here: the warning comes before the compile.
    assert "model.cell=lstm train slower on a CPU" in caplog.text


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C++ compiler")
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_inductor_compiles_a_gru_that_computes_nn_grus_function() -> None:
    from charnn.platform.compile import compile_model

    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell="gru", hidden_size=16, embedding_dim=8), vocab_size=11)
    twin = copy.deepcopy(model)
    compiled = compile_model(twin)
    ids, targets = torch.randint(0, 11, (2, 6)), torch.randint(0, 11, (2, 6))
    outputs = []
    for runner, params in ((model, model), (compiled, twin)):
        logits, hidden = runner(ids)
        torch.nn.functional.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)).backward()
        outputs.append((logits, hidden, {n: p.grad for n, p in params.named_parameters()}))
    (logits, hidden, grads), (logits_c, hidden_c, grads_c) = outputs
    torch.testing.assert_close(logits_c, logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(hidden_c, hidden, rtol=0, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_c[name], grad, rtol=0, atol=1e-6)


def test_resume_while_another_process_trains_says_the_folder_is_in_use(
    tiny_config: RunConfig,
) -> None:
    """It used to say 'nothing to resume ... it has no last.pt' when the other run simply had
    not written one yet."""
    run = Path(tiny_config.out_dir)
    with training_lock(run), pytest.raises(CheckpointError, match="is in use by another charnn"):
        resume_config(None, [f"out_dir={run}"])


def test_a_finished_run_says_so_and_an_extension_continues_the_decay(
    corpus_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Resuming a finished run printed 'done' with no hint; with a larger max_steps the cosine
    was stretched over the new total and the learning rate jumped back up."""
    run = tmp_path / "run"
    train(config_from_dict(tiny_tree(corpus_file, run, max_steps=30, log_every=1, eval_every=10)))
    config, checkpoint = resume_config(None, [f"out_dir={run}"])
    with caplog.at_level("INFO", logger="charnn"):
        again = train(config, resume_from=checkpoint)
    assert again.steps == 30
    assert "already finished: step 30, train.max_steps reached" in caplog.text
    assert "resume with a larger train.max_steps" in caplog.text

    config, checkpoint = resume_config(None, [f"out_dir={run}", "train.max_steps=40"])
    train(config, resume_from=checkpoint)
    lrs = {r["step"]: r["lr"] for r in MetricsLog(run / "metrics.jsonl").read() if r["lr"]}
    floor = config.train.lr * config.train.min_lr_ratio
    # The step-30 record holds the rate of step 30 (set at index 29): just above the floor.
    assert lrs[30] == pytest.approx(floor, rel=0.05)  # where the first session's decay ended
    after = [lrs[step] for step in range(30, 41)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(after))  # no jump
    last = load_checkpoint(run / "last.pt")
    assert last.schedule_restart["step"] == 30


def test_an_extension_mid_decay_goes_on_from_the_learning_rate_it_had(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    tree = tiny_tree(corpus_file, run, max_steps=40, log_every=1, eval_every=10)
    interrupt_at(monkeypatch, 20)
    with pytest.raises(TrainingInterrupted):
        train(config_from_dict(tree))
    monkeypatch.undo()
    config, checkpoint = resume_config(None, [f"out_dir={run}", "train.max_steps=60"])
    train(config, resume_from=checkpoint)
    lrs = {r["step"]: r["lr"] for r in MetricsLog(run / "metrics.jsonl").read() if r["lr"]}
    floor = config.train.lr * config.train.min_lr_ratio
    assert floor < lrs[21] <= lrs[20]  # goes on from where it was, not back up
    assert lrs[60] == pytest.approx(floor, rel=0.01)


def test_a_run_shorter_than_its_warmup_is_warned_about(
    corpus_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """quick.yaml with max_time=5 used to end at 8.4e-4 of its 2e-3, silently."""
    tree = tiny_tree(corpus_file, tmp_path / "steps", max_steps=10, warmup_steps=50)
    with caplog.at_level("WARNING", logger="charnn"):
        train(config_from_dict(tree))
    assert "train.warmup_steps=50 is longer than this run (10 steps)" in caplog.text
    caplog.clear()
    timed = tiny_tree(corpus_file, tmp_path / "time", max_steps=None, max_time=60, warmup_steps=50)
    monkeypatch.setattr(
        Limits, "reached", lambda self, state: "max_time" if state.step >= 7 else ""
    )
    with caplog.at_level("WARNING", logger="charnn"):
        train(config_from_dict(timed))
    assert "ended at step 7, inside its warmup (train.warmup_steps=50)" in caplog.text


def test_samples_while_training_are_printed_and_kept(
    corpus_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = tiny_tree(corpus_file, tmp_path / "run", sample_every=20)
    tree["train"]["sample_length"] = 30  # type: ignore[index]
    with caplog.at_level("INFO", logger="charnn"):
        summary = train(config_from_dict(tree))
    samples = JsonLines(summary.run_dir / "samples.jsonl").read()
    assert [record["step"] for record in samples] == [20, 40]
    assert all(len(record["text"]) == 30 for record in samples)
    assert "step 20 sample:" in caplog.text and samples[1]["text"] in caplog.text
    # Sampling draws from its own generator: the training is the one without samples.
    tree["out_dir"], tree["train"]["sample_every"] = str(tmp_path / "plain"), 0  # type: ignore[index]
    plain = train(config_from_dict(tree))
    a = load_checkpoint(summary.run_dir / "last.pt").model_state
    b = load_checkpoint(plain.run_dir / "last.pt").model_state
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_a_classifier_does_not_sample_while_training(bits_file: Path, tmp_path: Path) -> None:
    tree = tiny_classify_tree(bits_file, tmp_path / "run", sample_every=10)
    with pytest.raises(ConfigError, match=r"train\.sample_every is for task: lm"):
        config_from_dict(tree)
