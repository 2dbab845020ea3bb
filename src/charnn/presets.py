"""The shipped configs as presets: `charnn train shakespeare-lstm` finds configs/
shakespeare-lstm.yaml wherever charnn is installed.

In the repository, `configs/` is the source; the package reaches it as `charnn/configs` (a link
in a checkout, copied files in a wheel), so a pip-installed charnn carries the same files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SUFFIX = ".yaml"


def preset_dir() -> Path:
    return Path(str(resources.files("charnn") / "configs"))


def preset_names() -> list[str]:
    folder = preset_dir()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob(f"*{SUFFIX}"))


def preset_path(name: str) -> Path | None:
    """The preset called `name` (with or without .yaml), or None when there is no such preset."""
    stem = name.removesuffix(SUFFIX)
    if "/" in stem or "\\" in stem or stem not in preset_names():
        return None
    return preset_dir() / f"{stem}{SUFFIX}"


def preset_summary(name: str) -> str:
    """What a preset trains: the first line of the comment at its top."""
    path = preset_path(name)
    if path is None:
        return ""
    first = path.read_text(encoding="utf-8").splitlines()[:1]
    return first[0].lstrip("#").strip() if first and first[0].startswith("#") else ""


def resolve_config_file(given: Path) -> Path:
    """`given` when it exists (a file the user names wins), else the preset of that name (as
    `shakespeare-lstm` or as the repository spells it, `configs/shakespeare-lstm.yaml`, so the
    documented commands work outside a checkout), else `given` (reading it then says it does
    not exist)."""
    if given.exists():
        return given
    if given.parent in (Path("."), Path("configs")):
        return preset_path(given.name) or given
    return given
