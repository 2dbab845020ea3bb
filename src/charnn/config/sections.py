"""Run configuration: typed sections, one load path, one precedence rule.

Precedence, lowest to highest:

    dataclass defaults  <  YAML file  <  --set KEY=VALUE  <  dedicated flags (--data, --device, ...)

The CLI turns its dedicated flags into `--set` overrides, so every value travels the same path:
the YAML file and the overrides are merged into one plain dict tree first, and the frozen
dataclasses are built from that tree once. Unknown keys are errors (with the closest known key
suggested), and every value is coerced by the field's declared type, because PyYAML follows
YAML 1.1 and reads `lr: 3e-3` as the *string* "3e-3".
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from charnn.errors import ConfigError
from charnn.errors import key as named
from charnn.presets import resolve_config_file

TASKS = ("lm", "classify")
CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "mean", "max")
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
CLASS_WEIGHTS = ("none", "balanced")
CLASSIFY_ONLY_KEYS = (
    "data.val_path",
    "data.test_path",
    "data.max_length",
    "model.pooling",
    "train.class_weights",
)
"""Keys a language model has no use for: set to anything but their default, they are refused."""
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("fp32", "bf16")
TOKENIZERS = ("chars", "bytes")
DECODE_ERRORS = ("strict", "replace", "ignore")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
"""What `device` names (besides `cuda:N`, one GPU of several)."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _one_of(key: str, value: str, allowed: Sequence[str]) -> None:
    _require(value in allowed, f"{key} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class DataConfig:
    """Where the text comes from and how it is split."""

    path: str | None = None
    """A local text file. When set, it is used and `source` is ignored. For `task: classify`,
    labelled examples: a `.tsv` file (`label<TAB>text` a line), a `.jsonl` file (`"text"` and
    `"label"` a line), a directory of `<label>.txt` files (one example a line) or a directory
    of `<label>/` folders (one example a file)."""
    encoding: str = "utf-8"
    """The encoding of `path`, e.g. `latin-1` or `utf-16`."""
    errors: str = "strict"
    """Bytes of `path` that are not valid in `encoding`: `strict` (refuse the file), `replace`
    (with U+FFFD) or `ignore` (drop them)."""
    tokenizer: str = "chars"
    """`chars` (one symbol per Unicode character of the text) or `bytes` (the file's 256 byte
    values: any file at all; `encoding` and `errors` then do not apply)."""
    source: str = "pydoc-topics"
    """A named corpus: `pydoc-topics` (offline, ships with Python) or `tinyshakespeare`."""
    val_fraction: float = 0.1
    """The last fraction of the corpus, held out for validation (nanoGPT's split). For
    `task: classify`, that fraction of each label's examples, drawn by `train.seed`."""
    test_fraction: float = 0.0
    """A fraction just before the validation part, held out for `charnn eval --split test`
    (for `task: classify`, of each label's examples)."""
    val_path: str | None = None
    """`task: classify`: labelled validation examples in a file of their own (any format of
    `path`); `val_fraction` is then not used."""
    test_path: str | None = None
    """`task: classify`: labelled test examples in a file of their own; `test_fraction` is then
    not used."""
    max_length: int | None = None
    """`task: classify`: keep only the first `max_length` characters of each example (null: no
    limit). A batch holds B x (its longest example) positions, so one very long example costs
    memory and time for its whole batch."""

    def __post_init__(self) -> None:
        _require(
            0.0 < self.val_fraction < 1.0,
            f"data.val_fraction must be between 0 and 1 (exclusive); got {self.val_fraction}",
        )
        _require(
            0.0 <= self.test_fraction < 1.0,
            f"data.test_fraction must be in [0, 1); got {self.test_fraction}",
        )
        _require(
            self.val_fraction + self.test_fraction < 1.0,
            "data.val_fraction + data.test_fraction must leave some text for training; "
            f"got {self.val_fraction} + {self.test_fraction}",
        )
        _require(self.path != "", "data.path is empty; give a text file or leave it unset")
        for name in ("val_path", "test_path"):
            _require(getattr(self, name) != "", f"data.{name} is empty; give a file or leave it")
        if self.max_length is not None:
            _require(self.max_length > 0, f"data.max_length must be > 0; got {self.max_length}")
        _require(is_known_encoding(self.encoding), unknown_encoding(self.encoding, "data.encoding"))
        _one_of("data.errors", self.errors, DECODE_ERRORS)
        _one_of("data.tokenizer", self.tokenizer, TOKENIZERS)


def is_known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a name with a NUL character in it
        return False
    return True


def unknown_encoding(name: str, key: str) -> str:
    return f"{key} {name!r} is not an encoding Python knows; try utf-8, latin-1, cp1252 or utf-16"


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelConfig:
    """The shape of the network: embedding, recurrent core, linear head."""

    cell: str = "lstm"
    """The recurrent core: `lstm`, `gru` or `rnn` (charnn's SimpleRNN, tanh)."""
    hidden_size: int = 256
    """Units in each recurrent layer (H)."""
    num_layers: int = 2
    """Recurrent layers stacked on each other."""
    embedding_dim: int = 64
    """Size of each character's learned embedding, the first layer's input."""
    dropout: float = 0.0
    """Dropout between recurrent layers and before the head; 0 turns it off."""
    pooling: str = "last"
    """`task: classify`: how the outputs over a sequence become one vector: `last` (the state
    after the last character; with `bidirectional`, the backward direction's after the
    first), `mean` or `max` over the positions."""
    bidirectional: bool = False
    """`task: classify`: also read each sequence backwards and join both directions' outputs.
    Refused for `task: lm`, where the backward direction would read the characters it is
    asked to predict."""

    def __post_init__(self) -> None:
        _one_of("model.cell", self.cell, CELLS)
        for key in ("hidden_size", "num_layers", "embedding_dim"):
            value = getattr(self, key)
            _require(value > 0, f"model.{key} must be > 0; got {value}")
        _require(0.0 <= self.dropout < 1.0, f"model.dropout must be in [0, 1); got {self.dropout}")
        _one_of("model.pooling", self.pooling, POOLINGS)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """The optimisation: batches, optimizer, clipping, schedule, stopping, evaluation."""

    batch_size: int = 32
    """Number of contiguous streams the training text is cut into (rows of a batch); for
    `task: classify`, examples in a batch."""
    seq_len: int = 64
    """Characters per truncated-BPTT window."""
    lr: float = 2e-3
    """Peak learning rate."""
    optimizer: str = "adamw"
    """`adamw`, `adam`, `sgd` or `rmsprop`."""
    momentum: float = 0.0
    """Momentum of `sgd` and `rmsprop` (the Adam optimizers keep their own)."""
    weight_decay: float = 0.0
    """Weight decay on matrices only (never biases): decoupled for `adamw`, added to the
    gradient (L2) for the others."""
    grad_clip: float = 1.0
    """Maximum global gradient norm; 0 turns clipping off."""
    schedule: str = "cosine"
    """`cosine` (decays to lr * min_lr_ratio at the end of the run) or `constant`."""
    warmup_steps: int = 50
    """Steps of linear warm-up from 0 to `lr`."""
    min_lr_ratio: float = 0.1
    """Where the cosine schedule ends, as a fraction of `lr`."""
    max_steps: int | None = 2000
    """Stop after this many optimizer steps (null: no step limit)."""
    max_time: float | None = None
    """Stop after this many seconds of training (null: no time limit)."""
    max_epochs: float | None = None
    """Stop after this many passes over the training split (null: no epoch limit). The run
    stops at whichever of max_steps, max_time and max_epochs comes first."""
    early_stopping_patience: int | None = None
    """Stop after this many evaluations in a row without a better validation score (loss for
    `task: lm`, accuracy for `task: classify`); best.pt keeps the best (null: never)."""
    class_weights: str = "none"
    """`task: classify`: `none`, or `balanced` (each class's loss weighted by
    examples / (classes x its examples), so rare classes count as much as common ones)."""
    eval_every: int = 500
    """Steps between evaluations of the validation split (and checkpoints)."""
    eval_chars: int | None = 2_000_000
    """Characters of the validation split scored at each evaluation, from its start (null: all
    of it). Bounds the pause on a large corpus; `charnn eval` always scores the whole split."""
    log_every: int = 50
    """Steps between metrics records and plain progress lines."""
    sample_every: int = 0
    """`task: lm`: every this many steps, generate a short sample, print it and append it (with
    its step) to <out_dir>/samples.jsonl, to watch the text improve; 0: never."""
    sample_length: int = 200
    """Characters in each of those samples."""
    seed: int = 1337
    """Seeds the weights' initialisation and dropout: the same seed trains the same model."""
    precision: str = "fp32"
    """`fp32`, or `bf16` autocast on CUDA or a CPU (the weights stay fp32; elsewhere, as on
    MPS, ignored with a warning). On a CPU it pays only where the CPU has bf16 arithmetic
    (AVX512-BF16 or AMX); BENCHMARKS.md has the measurements."""
    max_consecutive_skips: int = 10
    """A step whose loss or gradient norm is not finite is skipped (no update); after this many
    skipped steps in a row the run stops as diverged. 0: stop at the first one."""
    compile: bool = False
    """Run the training step through `torch.compile` (TorchDynamo with `allow_rnn` on, then
    Inductor; needs a C++ compiler on a CPU). On a CPU it helps only the GRU, after minutes of
    compiling (BENCHMARKS.md). Under torchrun each process compiles the
    DistributedDataParallel-wrapped model."""
    tensorboard: bool = False
    """Also write the metrics as TensorBoard scalars to <out_dir>/tensorboard (needs the
    tensorboard package: pip install 'charnn[tensorboard]'); metrics.jsonl stays the record."""
    wandb_project: str | None = None
    """Also log the metrics, and the config, to this Weights & Biases project (needs the wandb
    package: pip install 'charnn[wandb]'; WANDB_MODE=offline logs to <out_dir>/wandb)."""

    def __post_init__(self) -> None:
        for key in ("batch_size", "seq_len", "eval_every", "log_every"):
            value = getattr(self, key)
            _require(value > 0, f"train.{key} must be > 0; got {value}")
        _require(self.lr > 0, f"train.lr must be > 0; got {self.lr}")
        _require(
            self.weight_decay >= 0, f"train.weight_decay must be >= 0; got {self.weight_decay}"
        )
        _require(
            self.grad_clip >= 0, f"train.grad_clip must be >= 0 (0 = off); got {self.grad_clip}"
        )
        _one_of("train.schedule", self.schedule, SCHEDULES)
        _require(
            self.warmup_steps >= 0, f"train.warmup_steps must be >= 0; got {self.warmup_steps}"
        )
        _require(
            0.0 <= self.min_lr_ratio <= 1.0,
            f"train.min_lr_ratio must be in [0, 1]; got {self.min_lr_ratio}",
        )
        _require(
            self.max_steps is not None or self.max_time is not None or self.max_epochs is not None,
            "set train.max_steps, train.max_time or train.max_epochs; with none, training never "
            "stops",
        )
        if self.max_epochs is not None:
            _require(self.max_epochs > 0, f"train.max_epochs must be > 0; got {self.max_epochs}")
        if self.early_stopping_patience is not None:
            _require(
                self.early_stopping_patience > 0,
                "train.early_stopping_patience must be > 0 (null: never stop early); "
                f"got {self.early_stopping_patience}",
            )
        _one_of("train.optimizer", self.optimizer, OPTIMIZERS)
        _require(
            0.0 <= self.momentum < 1.0, f"train.momentum must be in [0, 1); got {self.momentum}"
        )
        _one_of("train.class_weights", self.class_weights, CLASS_WEIGHTS)
        if self.max_steps is not None:
            _require(self.max_steps > 0, f"train.max_steps must be > 0; got {self.max_steps}")
        if self.max_time is not None:
            _require(self.max_time > 0, f"train.max_time must be > 0 seconds; got {self.max_time}")
        if self.eval_chars is not None:
            _require(
                self.eval_chars >= 2,
                f"train.eval_chars must be >= 2 (null: the whole split); got {self.eval_chars}",
            )
        _require(self.seed >= 0, f"train.seed must be >= 0; got {self.seed}")
        _require(
            self.sample_every >= 0,
            f"train.sample_every must be >= 0 (0: never); got {self.sample_every}",
        )
        _require(
            self.sample_length > 0, f"train.sample_length must be > 0; got {self.sample_length}"
        )
        _one_of("train.precision", self.precision, PRECISIONS)
        _require(
            self.max_consecutive_skips >= 0,
            f"train.max_consecutive_skips must be >= 0; got {self.max_consecutive_skips}",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RunConfig:
    """Everything one training run needs; stored in the run directory and in every checkpoint."""

    task: str = "lm"
    """`lm` (predict the next character) or `classify` (one label for each whole example)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Where the text comes from and how it is split."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The shape of the network."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """The optimisation."""
    device: str = "auto"
    """`auto` (CUDA, then MPS, then CPU), `cpu`, `cuda`, `cuda:N` or `mps`."""
    out_dir: str = "runs/default"
    """The run directory: config.yaml, last.pt, best.pt, metrics.jsonl."""

    def __post_init__(self) -> None:
        _require(self.out_dir != "", "out_dir is empty; name a run directory")
        _require(self.device != "", "device is empty; use auto, cpu, cuda, cuda:N or mps")
        _one_of("task", self.task, TASKS)
        _require(
            self.task == "lm" or self.train.sample_every == 0,
            "train.sample_every is for task: lm (a classifier does not generate text); set "
            "train.sample_every=0",
        )
        if self.task == "lm":
            _require(
                not self.model.bidirectional,
                "model.bidirectional is for task: classify; a language model reading backwards "
                "would see the characters it is asked to predict; set model.bidirectional=false",
            )
            for dotted in CLASSIFY_ONLY_KEYS:
                section, name = dotted.split(".")
                part = getattr(self, section)
                field_ = next(f for f in dataclasses.fields(part) if f.name == name)
                _require(
                    getattr(part, name) == field_.default,
                    f"{dotted} applies to task: classify only; drop it, or set task=classify",
                )


# --------------------------------------------------------------------------------------------
# Building a RunConfig from a plain dict tree


def config_from_dict(tree: Mapping[str, Any]) -> RunConfig:
    """Build and validate a RunConfig from nested plain data (YAML, overrides, checkpoints)."""
    return _build(RunConfig, tree, prefix="")


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """The config as nested plain data, in declaration order (YAML- and checkpoint-safe)."""
    return dataclasses.asdict(config)


def known_keys(cls: type = RunConfig, prefix: str = "") -> list[str]:
    """Every dotted key a config accepts, e.g. `model.hidden_size`."""
    keys = []
    for name, kind in typing.get_type_hints(cls).items():
        dotted = f"{prefix}{name}"
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            keys.extend(known_keys(kind, prefix=f"{dotted}."))
        else:
            keys.append(dotted)
    return keys


def _build(cls: type, tree: Mapping[str, Any], *, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    for name in tree:
        if name not in hints:
            raise ConfigError(_unknown_key_message(f"{prefix}{name}"))
    values = {}
    for name, value in tree.items():
        kind = hints[name]
        dotted = f"{prefix}{name}"
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            if value is None:  # an empty YAML section (`model:` with nothing under it)
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"config key '{dotted}' is a section; give it keys such as "
                    f"{dotted}.{next(iter(typing.get_type_hints(kind)))}, not {value!r}"
                )
            values[name] = _build(kind, value, prefix=f"{dotted}.")
        else:
            values[name] = coerce(value, kind, dotted)
    return cls(**values)


# What other char-RNN tools call our keys (char-rnn, torch-rnn, nanoGPT, word_language_model),
# so that a user who brings their habits gets pointed at the right key.
FAMILIAR_NAMES = {
    "learning_rate": "train.lr",
    "rnn_size": "model.hidden_size",
    "nhid": "model.hidden_size",
    "hidden": "model.hidden_size",
    "n_layers": "model.num_layers",
    "nlayers": "model.num_layers",
    "model_type": "model.cell",
    "rnn_type": "model.cell",
    "emsize": "model.embedding_dim",
    "wordvec_size": "model.embedding_dim",
    "bsz": "train.batch_size",
    "seq_length": "train.seq_len",
    "bptt": "train.seq_len",
    "block_size": "train.seq_len",
    "max_iters": "train.max_steps",
    "max_epochs": "train.max_epochs",
    "epochs": "train.max_epochs",
    "patience": "train.early_stopping_patience",
    "eval_interval": "train.eval_every",
    "clip": "train.grad_clip",
    "checkpoint_dir": "out_dir",
    "data_dir": "data.path",
}


def _unknown_key_message(dotted: str) -> str:
    return (
        f"unknown config key {dotted!r}{_did_you_mean(dotted)}; charnn config keys lists them "
        "(and docs/configuration.md)"
    )


def _did_you_mean(dotted: str) -> str:
    """The known key a mistyped or misplaced one most likely meant, as a hint (or nothing)."""
    keys = known_keys()
    leaf = dotted.rsplit(".", 1)[-1]
    if leaf in FAMILIAR_NAMES:  # another tool's name for one of ours
        return f" (did you mean '{FAMILIAR_NAMES[leaf]}'?)"
    leaves = {key.rsplit(".", 1)[-1]: key for key in keys}
    if leaf in leaves:  # the right name in the wrong section, or in none (`lr`: `train.lr`)
        return f" (did you mean '{leaves[leaf]}'?)"
    close = difflib.get_close_matches(dotted, keys, n=1, cutoff=0.6)
    if not close:
        near = difflib.get_close_matches(leaf, leaves, n=1, cutoff=0.75)
        close = [leaves[near[0]]] if near else []
    return f" (did you mean '{close[0]}'?)" if close else ""


_NONE_WORDS = frozenset({"null", "none", "~"})
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert `value` to the declared `kind` of config key `key`, or raise a ConfigError."""
    if isinstance(kind, types.UnionType):  # `int | None` and friends
        members = [member for member in typing.get_args(kind) if member is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
            return None
        (kind,) = members
    if value is None:
        raise ConfigError(f"config key '{key}' needs a value ({_describe(kind)}); got null")
    if kind is str:
        if isinstance(value, str):
            return value
    elif kind is int:
        number = _as_number(value)
        if number is not None and float(number).is_integer():
            return int(number)
    elif kind is float:
        number = _as_number(value)
        if number is not None and math.isfinite(number):
            return float(number)
    elif kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
    else:  # pragma: no cover - a field type this loader was not taught
        raise TypeError(f"config field {key} has unsupported type {kind!r}")
    raise ConfigError(f"config key '{key}' expects {_describe(kind)}; got {value!r}")


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):  # bool is an int in Python, never a size or a rate here
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _describe(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(kind, str(kind))


# --------------------------------------------------------------------------------------------
# YAML files and --set overrides


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a config file into a dict tree, with one clear error for each way it can be wrong.
    A path that does not exist but names a preset (`quick`, `configs/quick.yaml`) reads it."""
    path = resolve_config_file(path)
    if not path.exists():
        raise ConfigError(
            f"config file {path} does not exist; check the path, or name a preset "
            "(charnn config list lists them)"
        )
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory; give a .yaml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(
            f"config file {path} must be a mapping of sections (data:, model:, train:, ...); "
            f"it holds a {type(tree).__name__}"
        )
    return tree


def apply_overrides(tree: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of `tree` with each `dotted.key=value` override applied in order.

    Values stay strings here; `coerce` converts them by the declared type of their key.
    """
    merged = _deep_copy(tree)
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"{named('overrides')} expects KEY=VALUE such as model.hidden_size=512; "
                f"got {override!r}"
            )
        node = merged
        *sections, leaf = key.split(".")
        for depth, section in enumerate(sections):
            child = node.get(section)
            if child is None:
                child = node[section] = {}
            elif not isinstance(child, dict):
                path = ".".join(sections[: depth + 1])
                raise ConfigError(f"cannot set {key}: config key '{path}' is not a section")
            node = child
        node[leaf] = value
    return merged


def merge_trees(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay `top` on `base`, recursing into sections; `top` wins."""
    merged = _deep_copy(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge_trees(merged[key], value)
        else:
            merged[key] = _deep_copy(value) if isinstance(value, Mapping) else value
    return merged


def _deep_copy(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in tree.items()}


def load_config(
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Resolve a RunConfig: defaults < `base` < YAML file < overrides (in order).

    A relative `data.path` is made absolute (against the working directory), so the stored
    config still finds the corpus when `eval` or `--resume` run from another directory.
    """
    tree = dict(base or {})
    if config_file is not None:
        tree = merge_trees(tree, read_yaml(config_file))
    config = config_from_dict(apply_overrides(tree, overrides))
    if config.data.path is not None:
        absolute = str(Path(config.data.path).expanduser().absolute())
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, path=absolute))
    return config


def config_sources(config_file: Path | None, overrides: Sequence[str] = ()) -> dict[str, str]:
    """Where each dotted key's value comes from: `default`, `file` or `override` (the last one
    that sets it, following the precedence of `load_config`)."""
    sources = dict.fromkeys(_flatten(config_to_dict(RunConfig())), "default")
    if config_file is not None:
        sources.update(dict.fromkeys(_flatten(read_yaml(config_file)), "file"))
    for override in overrides:
        sources[override.partition("=")[0].strip()] = "override"
    return sources


def config_to_yaml(config: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def changed_keys(old: RunConfig, new: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two configs, with (old, new) values."""
    flat_old, flat_new = _flatten(config_to_dict(old)), _flatten(config_to_dict(new))
    return {
        key: (flat_old[key], flat_new[key]) for key in flat_old if flat_old[key] != flat_new[key]
    }


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
