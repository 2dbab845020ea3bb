"""The one load path of a run configuration, and its one precedence rule.

Precedence, lowest to highest:

    dataclass defaults  <  YAML file  <  --set KEY=VALUE  <  dedicated flags (--data, --device, ...)

The CLI turns its dedicated flags into `--set` overrides, so every value travels the same path:
the YAML file and the overrides are merged into one plain dict tree first, and the frozen
dataclasses are built from that tree once. Unknown keys are errors (with the closest known key
suggested), and every value is coerced by the field's declared type, because PyYAML follows
YAML 1.1 and reads `lr: 3e-3` as the *string* "3e-3".
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from charnn.config.sections import NAMED_DATA, RunConfig
from charnn.errors import ConfigError
from charnn.errors import key as named
from charnn.presets import resolve_config_file


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


TUNE_SECTION = "tune"
"""A config file's search space for charnn tune (charnn.tuning.space); training ignores it."""


def load_config(
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Resolve a RunConfig: defaults < `base` < YAML file < overrides (in order).

    A relative `data.path` is made absolute (against the working directory), so the stored
    config still finds the corpus when `eval` or `--resume` run from another directory; a
    named source (`mnist`) stays a name, unless a file of that name is there.
    """
    tree = dict(base or {})
    if config_file is not None:
        tree = merge_trees(tree, read_yaml(config_file))
    tree.pop(TUNE_SECTION, None)
    config = config_from_dict(apply_overrides(tree, overrides))
    path = config.data.path
    if path is not None and not (path in NAMED_DATA and not Path(path).exists()):
        absolute = str(Path(path).expanduser().absolute())
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
