#!/usr/bin/env bash
# Create .venv (if needed) and install charnn into it with its test tools.
# torch is pinned (with uv, in the same resolution; with pip, installed first): an unpinned
# torch would pull a multi-GB CUDA build, while torch==2.13.0 resolves to a CPU wheel;
# pyproject's torch>=2.10 is then already met.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${CHARNN_TORCH_SPEC:-torch==2.13.0}
UV_VERSION=0.13.9

"$PYTHON" - <<'PY' || { echo "charnn needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# uv installs the same pinned requirements as pip in a fraction of the time: it unpacks torch's
# wheel and compiles the bytecode of every module in parallel. The bytecode is compiled here, at
# install time, because where PYTHONDONTWRITEBYTECODE is set (CI machines among them) Python
# never writes it later: every process would then compile torch's modules again as it imports
# them, about a second each. uv reads neither pip's config nor its certificates, so it is given
# pip's find-links (where a local torch wheel may lie) and told to trust the system's
# certificates. Should uv be unavailable or fail, pip installs the same things.
if pip install uv=="$UV_VERSION" 2>/dev/null; then
    links=()
    for folder in $(pip config get global.find-links 2>/dev/null) ${PIP_FIND_LINKS:-}; do
        [ -d "$folder" ] && links+=(--find-links "$folder")
    done
    if .venv/bin/python -m uv pip install -q --system-certs --compile-bytecode \
        --python .venv/bin/python \
        ${links[@]+"${links[@]}"} "$TORCH_SPEC" -e ".[dev]"; then
        echo "charnn is installed in .venv ($(.venv/bin/charnn --version))"
        exit 0
    fi
    echo "uv could not install the requirements; installing them with pip" >&2
fi
pip install "$TORCH_SPEC"
pip install -e ".[dev]"
echo "charnn is installed in .venv ($(.venv/bin/charnn --version))"
