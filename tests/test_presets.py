"""The shipped configs travel with the package and resolve by name from anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charnn.cli import app
from charnn.presets import preset_names, preset_path, resolve_config_file

from .conftest import REPO_ROOT

runner = CliRunner()


def test_every_config_in_the_repository_is_a_preset() -> None:
    assert preset_names() == sorted(path.stem for path in (REPO_ROOT / "configs").glob("*.yaml"))
    path = preset_path("quick")
    assert (
        path is not None and path.read_text() == (REPO_ROOT / "configs" / "quick.yaml").read_text()
    )
    assert preset_path("../pyproject") is None and preset_path("nope") is None


def test_a_preset_name_resolves_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_config_file(Path("quick")) == preset_path("quick")
    # The commands in the docs name configs/NAME.yaml: they work outside a checkout too.
    assert resolve_config_file(Path("configs/quick.yaml")) == preset_path("quick")
    assert resolve_config_file(Path("elsewhere/quick.yaml")) == Path("elsewhere/quick.yaml")
    (tmp_path / "quick").write_text("model:\n  hidden_size: 8\n")  # a file the user names wins
    assert resolve_config_file(Path("quick")) == Path("quick")
    (tmp_path / "quick").unlink()
    shown = runner.invoke(app, ["config", "show", "shakespeare-gru", "--sources"])
    assert shown.exit_code == 0, shown.output
    assert "cell: gru  # file" in shown.stdout


def test_config_list_gives_one_line_a_preset() -> None:
    result = runner.invoke(app, ["config", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # each has its summary


@pytest.mark.slow
def test_the_wheel_carries_the_presets_and_the_license(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("charnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.split("/")[-1] for n in names if n.startswith("charnn/configs/")) == sorted(
        f"{name}.yaml" for name in preset_names()
    )
    assert any(n.endswith("licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"License-Expression: MIT" in metadata
