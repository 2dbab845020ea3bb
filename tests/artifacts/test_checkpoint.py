from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from charnn.artifacts.checkpoint import (
    CHECKSUM_KEY,
    FORMAT_VERSION,
    TEXT_FORMAT_VERSION,
    Checkpoint,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from charnn.config import RunConfig
from charnn.data.vocab import CharVocab
from charnn.errors import CheckpointError
from charnn.model.network import CharRNN

from ..conftest import disk_with_room


def make_checkpoint() -> Checkpoint:
    torch.manual_seed(0)
    config = RunConfig()
    vocab = CharVocab("abcdefgh")
    model = CharRNN(config.model, len(vocab))
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randint(0, 8, (2, 3)))[0].sum().backward()
    optimizer.step()
    return Checkpoint(
        config=config,
        vocab=vocab,
        model_state=model.state_dict(),
        optimizer_state=optimizer.state_dict(),
        step=12,
        best_val_loss=1.5,
        val_loss=1.75,
        elapsed_s=3.25,
        hidden=[torch.randn(2, 2, 256), torch.randn(2, 2, 256)],
        rng={"torch": torch.get_rng_state()},
        corpus={"name": "x", "chars": 100, "sha256": "ab" * 32},
    )


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    original = make_checkpoint()
    path = tmp_path / "c.pt"
    save_checkpoint(path, original)
    loaded = load_checkpoint(path)
    assert loaded.config == original.config and loaded.vocab == original.vocab
    assert (loaded.step, loaded.best_val_loss, loaded.val_loss, loaded.elapsed_s) == (
        12,
        1.5,
        1.75,
        3.25,
    )
    assert loaded.corpus == original.corpus
    assert loaded.versions["charnn"] and loaded.versions["torch"] == str(torch.__version__)
    for name, tensor in original.model_state.items():
        assert torch.equal(loaded.model_state[name], tensor)
    assert all(torch.equal(a, b) for a, b in zip(loaded.hidden, original.hidden, strict=True))
    assert torch.equal(loaded.rng["torch"], original.rng["torch"])
    assert (
        loaded.optimizer_state["state"][0]["step"] == original.optimizer_state["state"][0]["step"]
    )
    ids = torch.randint(0, 8, (1, 5))
    torch.testing.assert_close(loaded.build_model()(ids)[0], original.build_model()(ids)[0])


def test_the_file_is_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    raw = torch.load(path, weights_only=True)  # would raise on any non-plain object
    assert raw["format"] == "charnn-checkpoint" and raw["format_version"] == TEXT_FORMAT_VERSION


def test_a_classifier_of_sequences_is_format_3_with_its_inputs(
    trained_sequence_classifier: Path,
) -> None:
    raw = torch.load(trained_sequence_classifier / "last.pt", weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION == 3 and raw["vocab"] is None
    assert raw["inputs"] == {
        "kind": "values",
        "features": 1,
        "steps": 15,
        "dtype": "uint8",
        "standardize": True,
    }
    assert {"embedding.mean", "embedding.scale"} <= set(raw["model"])
    checkpoint = load_checkpoint(trained_sequence_classifier / "last.pt")
    assert checkpoint.reads_values and checkpoint.vocab is None
    with pytest.raises(CheckpointError, match="reads sequences of numbers"):
        checkpoint.chars  # noqa: B018


def test_saving_leaves_no_temporary_files(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pt", make_checkpoint())
    save_checkpoint(tmp_path / "c.pt", make_checkpoint())
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_a_disk_that_fills_up_part_way_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real full disk failed inside torch.save's zip writer (OSError), whose clean-up then
    raised 'RuntimeError: [enforce fail at inline_container.cc] unexpected pos' over it."""
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    before = path.read_bytes()
    disk_with_room(monkeypatch, len(before) // 2)
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(path, dataclasses.replace(make_checkpoint(), step=99))
    message = str(caught.value)
    assert f"no space left on the device of {tmp_path}" in message
    assert "MB)" in message and "the previous checkpoint, if any, is intact" in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_content_changed_after_writing_is_refused(tmp_path: Path) -> None:
    """A file that still unpickles but whose values changed (bit rot, a bad copy, an edit)."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, make_checkpoint())
    raw = torch.load(path, weights_only=True)
    raw["model"]["head.weight"][0, 0] += 1e-3
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=r"does not match its checksum.*also has best\.pt"):
        load_checkpoint(path)
    del raw[CHECKSUM_KEY]
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        load_checkpoint(path)


def test_a_flipped_byte_in_the_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    with zipfile.ZipFile(path) as archive:  # find where one weight tensor's bytes lie
        member = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(path.read_bytes())
    # A zip local header is 30 bytes, then the name, then an extra field of its own length.
    header = member.header_offset
    local_extra = int.from_bytes(data[header + 28 : header + 30], "little")
    data_start = header + 30 + len(member.filename.encode()) + local_extra
    data[data_start + member.file_size // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        load_checkpoint(path)


def test_format_1_files_without_a_checksum_still_load(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    raw = torch.load(path, weights_only=True)
    del raw[CHECKSUM_KEY]
    raw["format_version"] = 1
    torch.save(raw, path)
    assert load_checkpoint(path).step == 12


def test_non_finite_weights_are_never_written(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    before = path.read_bytes()
    broken = make_checkpoint()
    broken.model_state["head.bias"][3] = float("nan")
    with pytest.raises(CheckpointError, match=r"refusing to write .*head\.bias.* not finite"):
        save_checkpoint(path, broken)
    assert path.read_bytes() == before


@pytest.mark.parametrize("keep_bytes", [0, 10, 1000, -100])
def test_truncated_files_are_refused(tmp_path: Path, keep_bytes: int) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint())
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [{"model": {}}, [1, 2, 3], {"format": "other"}])
def test_foreign_files_are_refused(tmp_path: Path, content: object) -> None:
    path = tmp_path / "c.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="is not a charnn checkpoint"):
        load_checkpoint(path)


def test_a_newer_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    data = make_checkpoint().to_dict()
    data["format_version"] = FORMAT_VERSION + 1
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=r"newer than this charnn reads.*upgrade charnn"):
        load_checkpoint(path)


def test_missing_fields_are_a_damaged_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    data = make_checkpoint().to_dict()
    del data["step"]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="damaged charnn checkpoint"):
        load_checkpoint(path)


class _Exploit:
    marker: Path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (self.marker, "pwned"))  # type: ignore[return-value]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_loading_never_runs_code_from_the_file(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "marker"
    exploit = _Exploit()
    exploit.marker = marker
    path = tmp_path / "evil.pt"
    with path.open("wb") as file:
        torch.save(
            {"format": "charnn-checkpoint", "payload": exploit}, file, pickle_protocol=protocol
        )
    with pytest.raises(CheckpointError, match="holds Python objects that charnn will not load"):
        load_checkpoint(path)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    original = make_checkpoint()
    state = dict(original.model_state)
    state["head.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="do not fit its own model config"):
        dataclasses.replace(original, model_state=state).build_model()


def test_checkpoint_path_prefers_best_then_last(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint_path(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        checkpoint_path(tmp_path)
    (tmp_path / "last.pt").write_bytes(b"")
    assert checkpoint_path(tmp_path) == tmp_path / "last.pt"
    (tmp_path / "best.pt").write_bytes(b"")
    assert checkpoint_path(tmp_path) == tmp_path / "best.pt"
    assert checkpoint_path(tmp_path, prefer="last.pt") == tmp_path / "last.pt"
    assert checkpoint_path(tmp_path / "last.pt") == tmp_path / "last.pt"


def test_a_missing_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
