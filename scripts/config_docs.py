"""Write docs/configuration.md from the config dataclasses: every key, its type, its default and
its attribute docstring, so the reference cannot drift from the code.

    python scripts/config_docs.py           # rewrite docs/configuration.md
    python scripts/config_docs.py --check   # exit 1 when it is stale (the tests run this)
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from charnn import config
from charnn.config_keys import section_keys

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "configuration.md"

INTRO = """\
# Configuration

<!-- Written by scripts/config_docs.py from the docstrings of src/charnn/config/sections.py. -->

A run is configured by one YAML file with three sections, `data`, `model` and `train`, plus
`device` and `out_dir` at the top level. Every key has a default, so a file names only what
it changes (see `configs/`). Precedence, lowest to highest:

    defaults  <  YAML file  <  --set KEY=VALUE  <  dedicated flags (--data, --out-dir, --device)

`charnn config show [FILE] [--set ...] --sources` prints the resolved config and where each
value came from. Unknown keys are errors that suggest the closest known key (charnn also knows
what other tools call them: `learning_rate`, `rnn_size`, `bptt`, `block_size`, ...). Each value
is coerced by its key's type: PyYAML follows YAML 1.1 and reads `lr: 3e-3` as a string, which
charnn converts. Null (`~`, `null` or `none`) is allowed where the type says `or null`. A
resumed run keeps its `task`, `data.*`, `model.*`, `train.batch_size`, `train.seq_len`,
`train.optimizer` and `train.class_weights`; other keys may change on `--resume`.
`charnn config keys` prints this reference on a terminal.

The cosine decay follows whichever limit is closer to done: with `train.max_time` set, the
learning rate reaches its floor when the time runs out, so a time budget is used well (such a
schedule follows the clock, so two timed runs are not bit-for-bit identical; step-limited runs
are). From Python, the same keys are the fields of `charnn.config.RunConfig` and its sections.
"""


def section(cls: type, prefix: str) -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for info in section_keys(cls, prefix):
        lines.append(f"| `{info.key}` | {info.type} | `{info.default}` | {info.description} |")
    return lines


def render() -> str:
    parts = [INTRO]
    for name, cls in (
        ("data", config.DataConfig),
        ("model", config.ModelConfig),
        ("train", config.TrainConfig),
    ):
        parts.append(f"## `{name}`\n")
        parts.append(inspect.cleandoc(cls.__doc__ or "") + "\n")
        parts.append("\n".join(section(cls, f"{name}.")) + "\n")
    parts.append("## Top level\n")
    parts.append("\n".join(section(config.RunConfig, "")) + "\n")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/config_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
