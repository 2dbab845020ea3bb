from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from charnn.artifacts.checkpoint import load_checkpoint
from charnn.config import ModelConfig
from charnn.errors import CharnnError, DataError
from charnn.inference.evaluator import EvalResult, evaluate, evaluate_checkpoint
from charnn.inference.options import EvalOptions
from charnn.model.network import CharRNN

from ..conftest import PATTERNED_TEXT


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("chunk_len", [1, 7, 4096])
def test_loss_equals_a_direct_computation(cell: str, chunk_len: int) -> None:
    torch.manual_seed(0)
    model = CharRNN(
        ModelConfig(cell=cell, hidden_size=16, num_layers=2, embedding_dim=8), vocab_size=11
    )
    ids = torch.randint(0, 11, (300,))
    model.train()  # evaluate must switch to eval mode itself, and back
    result = evaluate(model, ids, chunk_len=chunk_len)
    assert model.training
    model.eval()
    with torch.no_grad():
        logits, _ = model(ids[:-1].unsqueeze(0))  # the whole text in one call, state carried
        expected = F.cross_entropy(logits[0], ids[1:]).item()
    assert result.chars == 299
    assert result.loss == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("window", [1, 7, 64, 299, 1000])
def test_windowed_loss_equals_independent_windows_scored_one_by_one(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(hidden_size=16, num_layers=2, embedding_dim=8), vocab_size=11)
    ids = torch.randint(0, 11, (300,))
    monkeypatch.setattr("charnn.inference.evaluator.WINDOW_BATCH_CHARS", 100)  # several batches
    result = evaluate(model, ids, window=window)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, 299, window):  # the protocol, spelt out: fresh state per window
            stop = min(start + window, 299)
            logits, _ = model(ids[start:stop].unsqueeze(0))
            total += F.cross_entropy(logits[0], ids[start + 1 : stop + 1], reduction="sum").item()
    assert result.chars == 299
    assert result.loss == pytest.approx(total / 299, rel=1e-5)
    carried = evaluate(model, ids)
    if window >= 299:  # one window holding the whole text is the carried-state score
        assert result.loss == pytest.approx(carried.loss, rel=1e-5)
    with pytest.raises(CharnnError, match="window must be >= 1"):
        EvalOptions(window=0)


def test_units() -> None:
    result = EvalResult(loss=math.log(4), chars=1000, seconds=0.5)
    assert result.bpc == pytest.approx(2.0)
    assert result.perplexity == pytest.approx(4.0)
    assert result.chars_per_s == 2000
    assert set(result.to_dict()) >= {"loss", "bpc", "perplexity", "chars"}


def test_a_text_of_one_character_cannot_be_scored() -> None:
    model = CharRNN(ModelConfig(hidden_size=4, num_layers=1, embedding_dim=2), vocab_size=3)
    with pytest.raises(DataError, match="at least 2 characters"):
        evaluate(model, torch.tensor([1]))


def test_checkpoint_splits_and_text_files(trained_run: Path, tmp_path: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    cpu = torch.device("cpu")
    val = evaluate_checkpoint(checkpoint, EvalOptions(split="val"), device=cpu)
    assert val.loss == pytest.approx(checkpoint.val_loss, rel=1e-6)  # what training recorded
    test = evaluate_checkpoint(checkpoint, EvalOptions(split="test"), device=cpu)
    assert test.chars == int(len(PATTERNED_TEXT) * 0.1) - 1
    text_file = tmp_path / "other.txt"
    text_file.write_text("to be or not to be, that is the question.\n" * 3, encoding="utf-8")
    scored = evaluate_checkpoint(checkpoint, device=cpu, text_file=text_file)
    assert scored.chars == len(text_file.read_text()) - 1
    assert scored.loss < 1.0  # the model has learned this very sentence


def test_unknown_characters_in_an_eval_text_are_named(trained_run: Path, tmp_path: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    text_file = tmp_path / "other.txt"
    text_file.write_text("the quick brown ƒox", encoding="utf-8")
    with pytest.raises(DataError, match=r"other.txt has 1 character\(s\) the model never saw.*'ƒ'"):
        evaluate_checkpoint(checkpoint, device=torch.device("cpu"), text_file=text_file)


def test_split_errors(trained_run: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    with pytest.raises(CharnnError, match="unknown split 'dev'"):
        evaluate_checkpoint(checkpoint, EvalOptions(split="dev"), device=torch.device("cpu"))
    data = dataclasses.replace(checkpoint.config.data, test_fraction=0.0)
    no_test = dataclasses.replace(
        checkpoint, config=dataclasses.replace(checkpoint.config, data=data)
    )
    with pytest.raises(CharnnError, match="this run has no test split"):
        evaluate_checkpoint(no_test, EvalOptions(split="test"), device=torch.device("cpu"))


def test_a_changed_corpus_is_detected(trained_run: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    checkpoint = dataclasses.replace(checkpoint, corpus={**checkpoint.corpus, "sha256": "0" * 64})
    with pytest.raises(DataError, match="has changed since this run trained on it"):
        evaluate_checkpoint(checkpoint, device=torch.device("cpu"))


def test_model_config_is_used_for_the_rebuilt_model(trained_run: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    model = checkpoint.build_model()
    assert isinstance(model, CharRNN) and not model.training
    assert model.config == checkpoint.config.model


def test_a_moved_corpus_points_at_another_file(trained_run: Path, tmp_path: Path) -> None:
    checkpoint = load_checkpoint(trained_run / "best.pt")
    data = dataclasses.replace(checkpoint.config.data, path=str(tmp_path / "moved.txt"))
    moved = dataclasses.replace(
        checkpoint, config=dataclasses.replace(checkpoint.config, data=data)
    )
    with pytest.raises(
        DataError,
        match=r"moved.txt does not exist; check the path \(or score any text with file=PATH",
    ):
        evaluate_checkpoint(moved, device=torch.device("cpu"))


def test_scoring_shows_progress_on_a_terminal_after_a_delay(
    trained_run: Path, trained_classifier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """charnn eval showed nothing while it scored; a long text looked hung."""
    bars: list[dict[str, object]] = []

    class Recorder:
        def __init__(self, **kwargs: object) -> None:
            self.kwargs, self.done = kwargs, 0
            bars.append(kwargs)

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            self.kwargs["done"] = self.done

        def update(self, count: int) -> None:
            self.done += count

    from charnn.inference import progress

    monkeypatch.setattr(progress, "tqdm", Recorder)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    checkpoint = load_checkpoint(trained_run / "best.pt")
    result = evaluate_checkpoint(checkpoint, EvalOptions(), progress=True)
    (bar,) = bars
    assert bar["disable"] is False and bar["delay"] == progress.PROGRESS_DELAY_S > 0
    assert bar["done"] == bar["total"] == result.chars
    evaluate_checkpoint(checkpoint, EvalOptions())  # the API's default: no bar
    assert bars[1]["disable"] is True
    import charnn

    scored = charnn.load_model(trained_classifier).score_split("val", progress=True)
    assert bars[2]["unit"] == "example" and bars[2]["done"] == scored.examples  # type: ignore[union-attr]
