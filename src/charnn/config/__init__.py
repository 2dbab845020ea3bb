"""Run configuration: typed sections, one load path, one precedence rule.

`sections` declares what a run can be told (the frozen dataclasses, their defaults and checks);
`loading` builds one from defaults, a YAML file or preset, and `--set` overrides, in that
precedence. Both are read through this package: `from charnn.config import RunConfig`.
"""

from charnn.config.loading import (
    FAMILIAR_NAMES,
    apply_overrides,
    changed_keys,
    coerce,
    config_from_dict,
    config_sources,
    config_to_dict,
    config_to_yaml,
    known_keys,
    load_config,
    merge_trees,
    read_yaml,
)
from charnn.config.sections import (
    CELLS,
    CLASS_WEIGHTS,
    CLASSIFY_ONLY_KEYS,
    DECODE_ERRORS,
    DEVICE_CHOICES,
    NAMED_DATA,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    SCHEDULES,
    TASKS,
    TOKENIZERS,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    is_known_encoding,
    unknown_encoding,
)

__all__ = [
    "CELLS",
    "CLASSIFY_ONLY_KEYS",
    "CLASS_WEIGHTS",
    "DECODE_ERRORS",
    "DEVICE_CHOICES",
    "FAMILIAR_NAMES",
    "NAMED_DATA",
    "OPTIMIZERS",
    "POOLINGS",
    "PRECISIONS",
    "SCHEDULES",
    "TASKS",
    "TOKENIZERS",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "changed_keys",
    "coerce",
    "config_from_dict",
    "config_sources",
    "config_to_dict",
    "config_to_yaml",
    "is_known_encoding",
    "known_keys",
    "load_config",
    "merge_trees",
    "read_yaml",
    "unknown_encoding",
]
