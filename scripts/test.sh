#!/usr/bin/env bash
# Set everything up, then lint and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests scripts
.venv/bin/ruff format --check src tests scripts
.venv/bin/lint-imports   # the layer and typer contracts in pyproject.toml
.venv/bin/mypy           # src/charnn, settings in pyproject.toml
# Modules a reader can hold: none in src/ over 450 lines.
too_long=$(find src -name '*.py' -exec awk 'END { if (NR > 450) print FILENAME " has " NR " lines" }' {} \;)
if [ -n "$too_long" ]; then
    echo "$too_long; the limit is 450: split it where its seams are" >&2
    exit 1
fi
# One worker process per core this run may use, and one torch thread in each: the suite fits
# CI's 5 minutes that way. nproc counts the cores taskset leaves the run, but would also obey
# OMP_NUM_THREADS, hence env -u.
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
workers=${CHARNN_TEST_WORKERS:-$cores}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# pyproject's addopts skip the slow tests; the explicit -m here runs every test, slow ones too.
# The slow ones are collected first (tests/conftest.py) and an idle worker takes over half of a
# busy one's queue (worksteal), so no worker sits idle while another still has a queue.
.venv/bin/python -m pytest -m "slow or not slow" -n "$workers" --dist worksteal "$@"
