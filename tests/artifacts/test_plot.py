"""`charnn plot`: one PNG with the loss curves of one or more runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charnn.cli import app
from charnn.config import config_from_dict
from charnn.training.loop import train

from ..conftest import tiny_tree

runner = CliRunner()


def test_plot_writes_a_readable_png_of_several_runs(
    trained_run: Path, corpus_file: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    other = tmp_path / "other"
    train(config_from_dict(tiny_tree(corpus_file, other, max_steps=20, eval_every=10)))
    out = tmp_path / "figures" / "compare.png"
    result = runner.invoke(app, ["plot", str(trained_run), str(other), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out) and out.stat().st_size > 1000
    with Image.open(out) as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > image.size[1] > 100


def test_plot_without_matplotlib_names_the_extra(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    result = runner.invoke(app, ["plot", str(trained_run), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "pip install 'charnn[plot]'" in result.stderr


def test_plot_of_a_folder_without_metrics_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "has no training metrics" in result.stderr
