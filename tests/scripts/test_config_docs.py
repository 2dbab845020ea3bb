"""docs/configuration.md is what scripts/config_docs.py writes from the config's docstrings."""

from __future__ import annotations

from ..conftest import REPO_ROOT, run_script


def test_the_configuration_reference_is_current(subprocess_env: dict[str, str]) -> None:
    # Fails when a config key or its docstring changed without `python scripts/config_docs.py`.
    run_script("config_docs.py", "--check", env=subprocess_env)
    text = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "undocumented" not in text
    for key in ("`data.path`", "`model.cell`", "`train.max_steps`", "`out_dir`"):
        assert key in text
