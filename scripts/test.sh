#!/usr/bin/env bash
# Set everything up, then lint and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests scripts
.venv/bin/ruff format --check src tests scripts
.venv/bin/lint-imports   # the layer and typer contracts in pyproject.toml
.venv/bin/mypy           # src/charnn, settings in pyproject.toml
# Two cores: one torch thread per test process keeps timings predictable.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# pyproject's addopts skip the slow tests; the explicit -m here runs every test, slow ones too,
# in two worker processes (pytest-xdist), one per core: the suite fits CI's 5 minutes that way.
.venv/bin/python -m pytest -m "slow or not slow" -n "${CHARNN_TEST_WORKERS:-2}" "$@"
