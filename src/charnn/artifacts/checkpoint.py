"""One checkpoint format: plain data only, written atomically, loaded with weights_only=True.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, so `torch.load` never has
to run code from the file. It carries everything that `sample`, `eval` and `--resume` need:
the resolved config, the vocabulary, the model and optimizer state, the step, the carried
hidden state and the random generators' state, plus a sha256 of all of that (format 2 on), so
a file that was damaged after it was written is refused instead of silently used.

Format history: 1 had no checksum (still read); 2 added `checksum`; 3 added `inputs` and a
null `vocab` for classifiers of sequences of numbers, and is written for those only, so that a
charnn that cannot use such a file says to upgrade rather than calling it damaged.
"""

from __future__ import annotations

import errno
import io
import math
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from charnn.config import RunConfig, config_from_dict, config_to_dict
from charnn.data.vocab import CharVocab
from charnn.errors import CharnnError, CheckpointError, DataError, key
from charnn.model.classifier import CharClassifier
from charnn.model.network import CharRNN
from charnn.model.ngrams import NgramNaiveBayes
from charnn.platform.atomic import atomic_write
from charnn.platform.digest import content_sha256
from charnn.version import __version__

FORMAT_NAME = "charnn-checkpoint"
FORMAT_VERSION = 3
"""The newest format this charnn reads."""
TEXT_FORMAT_VERSION = 2
"""What a checkpoint of a model that reads characters is written as (any charnn since 2 reads
it)."""
CHECKSUM_KEY = "checksum"
BEST_NAME = "best.pt"
ModelType = TypeVar("ModelType", CharRNN, CharClassifier)
LAST_NAME = "last.pt"


class NonFiniteWeights(CheckpointError):
    """A checkpoint was not written because its weights hold NaN or inf."""


@dataclass
class Checkpoint:
    config: RunConfig
    vocab: CharVocab | None
    """The characters the model reads; None for a classifier of sequences of numbers."""
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None = None
    step: int = 0
    best_val_loss: float | None = None
    val_loss: float | None = None
    """The validation loss of these weights, when they were evaluated."""
    elapsed_s: float = 0.0
    """Seconds of training so far, summed over resumed sessions."""
    skipped_steps: int = 0
    """Steps skipped so far because their loss or gradient norm was not finite."""
    consecutive_skips: int = 0
    """How many of the latest steps in a row were skipped."""
    hidden: list[torch.Tensor] = field(default_factory=list)
    """The training hidden state carried into the next step (empty: start from zeros)."""
    rng: dict[str, Any] = field(default_factory=dict)
    rank_rngs: list[dict[str, Any]] = field(default_factory=list)
    """In a run of several processes (torchrun), the RNG state of each, in rank order; `rng`
    is then rank 0's. Empty for a one-process run."""
    corpus: dict[str, Any] = field(default_factory=dict)
    """`name`, `chars` (or `examples`) and `sha256` of the corpus the run trained on."""
    labels: list[str] = field(default_factory=list)
    """`task: classify`: the labels, class i being labels[i]. Empty for `task: lm`."""
    best_score: float | None = None
    """The best validation score so far (higher is better: -loss, or accuracy)."""
    evals_since_best: int = 0
    """Evaluations in a row since the score last improved (train.early_stopping_patience)."""
    schedule_restart: dict[str, float] = field(default_factory=dict)
    """Where a resumed run with new limits picked the learning-rate decay up (empty: never)."""
    device: str = "cpu"
    """The device it was trained on."""
    baseline: dict[str, Any] = field(default_factory=dict)
    """A classifier of texts: its n-gram naive Bayes baseline, fitted on the same training
    split (charnn.model.ngrams), with `weight`, its weight in the labels when model.ngram_mix
    is on (else None). Empty for other runs."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """A classifier of sequences of numbers: `features` (F), `steps` (T of the training
    data), `dtype` (as stored) and `standardize`. Empty for one that reads characters."""
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION if self.inputs else TEXT_FORMAT_VERSION,
            "versions": self.versions or {"charnn": __version__, "torch": str(torch.__version__)},
            "config": config_to_dict(self.config),
            "vocab": self.vocab.to_dict() if self.vocab is not None else None,
            "model": self.model_state,
            "optimizer": self.optimizer_state,
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "val_loss": self.val_loss,
            "elapsed_s": self.elapsed_s,
            "skipped_steps": self.skipped_steps,
            "consecutive_skips": self.consecutive_skips,
            "hidden": self.hidden,
            "rng": self.rng,
            "rank_rngs": self.rank_rngs,
            "corpus": self.corpus,
            "labels": self.labels,
            "best_score": self.best_score,
            "evals_since_best": self.evals_since_best,
            "schedule_restart": self.schedule_restart,
            "device": self.device,
            "inputs": self.inputs,
            "baseline": self.baseline,
        }

    def check_corpus(self, name: str, sha256: str, vocab: CharVocab | None, *, fix: str) -> None:
        """Refuse a corpus other than the one this run trained on; `fix` says what to do."""
        stored = self.corpus.get("sha256")
        if stored is not None and stored != sha256:
            raise DataError(f"the corpus {name} has changed since this run trained on it; {fix}")
        if vocab != self.vocab:  # the hash decides when present; this covers files without it
            raise DataError(f"the corpus {name} no longer has the run's vocabulary; {fix}")

    @property
    def classifies(self) -> bool:
        return self.config.task == "classify"

    @property
    def reads_values(self) -> bool:
        """A classifier of sequences of numbers (an .npz run), not of texts."""
        return bool(self.inputs)

    def ngram_baseline(self) -> NgramNaiveBayes | None:
        """The run's n-gram baseline (None: it has none)."""
        return NgramNaiveBayes.from_dict(self.baseline) if self.baseline else None

    @property
    def mix_weight(self) -> float | None:
        """The baseline's weight in the labels (model.ngram_mix), or None: the network alone."""
        weight = self.baseline.get("weight")
        return None if weight is None else float(weight)

    @property
    def chars(self) -> CharVocab:
        """The vocabulary of a model that reads characters."""
        if self.vocab is None:
            raise CheckpointError(
                "this run reads sequences of numbers (an .npz file), not text; give it "
                "sequences in an .npz file"
            )
        return self.vocab

    def build_model(self, device: torch.device | str = "cpu") -> CharRNN:
        """The language model with these weights, in eval mode, on `device`."""
        if self.classifies:
            raise CheckpointError(
                "this run classifies texts (task: classify) and does not generate or score "
                "text; classify with charnn predict (Python: classify())"
            )
        return self._loaded(CharRNN(self.config.model, len(self.chars)), device)

    def build_classifier(self, device: torch.device | str = "cpu") -> CharClassifier:
        """The classifier with these weights, in eval mode, on `device`."""
        if not self.classifies:
            raise CheckpointError(
                "this run is a language model (task: lm) and has no labels to predict; "
                "generate with charnn sample or score with charnn eval (Python: generate(), "
                "score())"
            )
        if self.reads_values:
            features = int(self.inputs["features"])
            model = CharClassifier(self.config.model, 0, len(self.labels), features=features)
        else:
            model = CharClassifier(self.config.model, len(self.chars), len(self.labels))
        return self._loaded(model, device)

    def build_network(self, device: torch.device | str = "cpu") -> CharRNN | CharClassifier:
        """The run's network, whichever task it has."""
        return self.build_classifier(device) if self.classifies else self.build_model(device)

    def _loaded(self, model: ModelType, device: torch.device | str) -> ModelType:
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as error:
            first_line = str(error).strip().splitlines()[-1].strip()
            raise CheckpointError(
                f"the checkpoint's weights do not fit its own model config ({first_line}); "
                "the file was altered or written by an incompatible charnn"
            ) from None
        return model.to(device).eval()


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: a crash at any moment leaves the previous file or the new one, never a
    torn one, and a failed write (disk full, read-only folder) leaves the previous one intact.

    Weights that are not finite are never written: such a file could only spread the damage.
    """
    broken = [
        name
        for name, tensor in checkpoint.model_state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if broken:
        raise NonFiniteWeights(
            f"refusing to write {path}: the weights {', '.join(broken[:3])} are not finite "
            "(NaN or inf); the previous checkpoint, if any, is intact"
        )
    content = checkpoint.to_dict()
    content[CHECKSUM_KEY] = content_sha256(content)
    # Serialised in memory first: a disk that fills up part way through then fails one plain
    # write, where inside torch.save it failed in the zip writer, whose clean-up then raised a
    # second, unrelated error over the first.
    buffer = io.BytesIO()
    torch.save(content, buffer)
    data = buffer.getbuffer()
    try:
        with atomic_write(path) as file:
            file.write(data)
    except OSError as error:
        raise CheckpointError(_write_failure(path, error, len(data))) from None


def _write_failure(path: Path, error: OSError, size: int) -> str:
    kept = "the previous checkpoint, if any, is intact"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"could not write checkpoint {path}: no space left on the device of {path.parent} "
            f"(the checkpoint needs {size / 1e6:,.1f} MB); {kept}; free disk space or choose "
            f"another {key('out_dir')}"
        )
    return (
        f"could not write checkpoint {path}: {error.strerror or error}; {kept}; "
        f"free disk space or choose another {key('out_dir')}"
    )


def checkpoint_path(run: Path, *, prefer: str = BEST_NAME) -> Path:
    """A checkpoint file given a run directory (its `prefer` file, else the other) or a file."""
    if not run.exists():
        raise CheckpointError(
            f"{run} does not exist; give a run directory or a .pt checkpoint file"
        )
    if run.is_file():
        return run
    for name in (prefer, LAST_NAME if prefer == BEST_NAME else BEST_NAME):
        if (run / name).is_file():
            return run / name
    raise CheckpointError(
        f"{run} holds no checkpoint ({BEST_NAME} or {LAST_NAME}); train into it with "
        f"{key('out_dir', run)} or give a checkpoint file"
    )


def load_checkpoint(path: Path, *, map_location: torch.device | str = "cpu") -> Checkpoint:
    """Read and check a checkpoint; every way it can be unusable is one clear CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path")
    other = LAST_NAME if path.name == BEST_NAME else BEST_NAME
    unreadable = (
        f"{path} is not a readable checkpoint (truncated or corrupted); "
        f"use another one (a run directory also has {other})"
    )
    other_kind = _not_a_checkpoint(path)
    if other_kind is not None:
        raise CheckpointError(other_kind)
    # charnn always writes torch's zip format; anything else is not one of ours, or is torn.
    if not zipfile.is_zipfile(path):
        raise CheckpointError(unreadable)
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" in str(error):
            # The safe unpickler met something beyond plain data: objects, functions, code.
            raise CheckpointError(
                f"{path} holds Python objects that charnn will not load (loading them could "
                "run code); it was not written by charnn"
            ) from None
        raise CheckpointError(unreadable) from None
    except Exception:  # a damaged archive can fail anywhere inside the unpickler
        raise CheckpointError(unreadable) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is not a charnn checkpoint")
    version = data.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path} is a damaged charnn checkpoint (no format version)")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, newer than this charnn reads "
            f"({FORMAT_VERSION}); upgrade charnn (pip install -U charnn)"
        )
    stored_checksum = data.pop(CHECKSUM_KEY, None)
    if version >= 2 and (stored_checksum is None or stored_checksum != _checksum_or_none(data)):
        raise CheckpointError(
            f"{path} is a damaged charnn checkpoint: its content does not match its checksum "
            f"(changed after it was written); use another one (a run directory also has {other})"
        )
    try:
        return Checkpoint(
            config=config_from_dict(data["config"]),
            vocab=CharVocab.from_dict(data["vocab"]) if data["vocab"] is not None else None,
            model_state=data["model"],
            optimizer_state=data.get("optimizer"),
            step=int(data["step"]),
            best_val_loss=_optional_float(data.get("best_val_loss")),
            val_loss=_optional_float(data.get("val_loss")),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            skipped_steps=int(data.get("skipped_steps", 0)),
            consecutive_skips=int(data.get("consecutive_skips", 0)),
            hidden=list(data.get("hidden") or []),
            rng=dict(data.get("rng") or {}),
            rank_rngs=[dict(state) for state in data.get("rank_rngs") or []],
            corpus=dict(data.get("corpus") or {}),
            labels=[str(label) for label in data.get("labels") or []],
            best_score=_optional_float(data.get("best_score")),
            evals_since_best=int(data.get("evals_since_best", 0)),
            schedule_restart={k: float(v) for k, v in (data.get("schedule_restart") or {}).items()},
            device=str(data.get("device", "cpu")),
            inputs=dict(data.get("inputs") or {}),
            baseline=dict(data.get("baseline") or {}),
            versions=dict(data.get("versions") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path} is a damaged charnn checkpoint (bad field: {error})"
        ) from None
    except CharnnError as error:
        raise CheckpointError(f"{path} is a damaged charnn checkpoint: {error}") from None


def _not_a_checkpoint(path: Path) -> str | None:
    """What to say when `path` is another kind of file a user might pass for a checkpoint: an
    exported model or a config (None: it may be a checkpoint)."""
    run_dir = path.parent
    use = f"give the run directory ({run_dir}) or its {BEST_NAME}"
    if path.suffix in (".yaml", ".yml"):
        return (
            f"{path} is a config file, not a checkpoint; train it with charnn train {path}, "
            "then use the run directory it writes"
        )
    if path.suffix == ".onnx":
        return f"{path} is an exported ONNX model, not a checkpoint; {use}"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return None
        if any("/code/" in name or name.endswith("/constants.pkl") for name in names):
            return (
                f"{path} is a TorchScript model (what charnn export writes), not a "
                f"checkpoint; {use}"
            )
    return None


def _checksum_or_none(data: dict[str, Any]) -> str | None:
    try:
        return content_sha256(data)
    except TypeError:  # a value charnn never writes: cannot be one of our files
        return None


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
