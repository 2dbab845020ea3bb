#!/usr/bin/env bash
# Create .venv (if needed) and install charnn into it with its test tools.
# torch is pinned and installed first: an unpinned torch would pull a multi-GB CUDA build,
# while torch==2.13.0 resolves to a CPU wheel; pyproject's torch>=2.10 is then already met.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${CHARNN_TORCH_SPEC:-torch==2.13.0}

"$PYTHON" - <<'PY' || { echo "charnn needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# --no-compile: Python compiles each module on its first import instead; compiling every file
# of torch and the dev tools up front is a large part of the install's time on a fresh machine.
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --no-compile "$TORCH_SPEC"
pip install --no-compile -e ".[dev]"
echo "charnn is installed in .venv ($(.venv/bin/charnn --version))"
