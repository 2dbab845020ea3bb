"""The run configuration's typed sections: data, model, train, and the run around them.

Each section is a frozen, keyword-only dataclass whose fields declare their type, default and
meaning (the docstring under each field, which `charnn config keys` and docs/configuration.md
show), and whose `__post_init__` refuses values that cannot work, naming the key and the fix.
How YAML files and overrides become these sections lives in charnn.config.loading.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from charnn.errors import ConfigError

TASKS = ("lm", "classify")
CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "mean", "max")
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
CLASS_WEIGHTS = ("none", "balanced")
CLASSIFY_ONLY_KEYS = (
    "data.val_path",
    "data.test_path",
    "data.max_length",
    "data.standardize",
    "model.pooling",
    "model.ngram_mix",
    "train.class_weights",
)
"""Keys a language model has no use for: set to anything but their default, they are refused."""
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("fp32", "bf16")
TOKENIZERS = ("chars", "bytes")
DECODE_ERRORS = ("strict", "replace", "ignore")
NAMED_DATA = ("mnist",)
"""Values of `data.path` that name a dataset charnn downloads (when no such file exists)."""
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
    of `<label>/` folders (one example a file); or sequences of numbers: an `.npz` file (`x`
    (N, T, F), `y` (N,), optional `lengths` (N,); or Keras' `x_train`, `y_train`, `x_test`,
    `y_test`), or `mnist` (downloaded once: 28 rows of 28 pixels per image)."""
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
    """`task: classify`: keep only the first `max_length` characters (or steps) of each example
    (null: no limit). A batch holds B x (its longest example) positions, so one very long
    example costs memory and time for its whole batch."""
    standardize: bool = True
    """`task: classify` on sequences of numbers: shift and scale each feature by the training
    split's mean and standard deviation (stored in the model, so every consumer takes raw
    values); false: the values go in as they are."""

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
    ngram_mix: bool = False
    """`task: classify` on texts: label with the network's log-probabilities plus w times those
    of the character n-gram naive Bayes baseline fitted on the same training split, w chosen at
    each evaluation on the validation split (0 when the baseline does not help there).
    Predictions, scores and best.pt all follow the combination; exports hold the network only."""
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
