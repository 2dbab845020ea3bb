#!/usr/bin/env bash
# Run the whole test suite under torch versions other than the pinned one, each in its own
# virtual environment (.venv-torch-VERSION-pyX.Y, kept for reruns): pyproject's floor (2.10) and the
# versions users have. PyPI's Linux wheels of torch are CUDA builds, so each version downloads
# several GB (2.11.0 takes about 4.6 GB installed); they run on a CPU as well.
#
#   bash scripts/test_torch_versions.sh 2.10.0 2.11.0 [-- PYTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
versions=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    versions+=("$1")
    shift
done
if [ "${1:-}" = "--" ]; then
    shift
fi
if [ ${#versions[@]} -eq 0 ]; then
    echo "usage: bash scripts/test_torch_versions.sh VERSION... [-- PYTEST_ARGS...]" >&2
    exit 2
fi

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # as scripts/test.sh
python_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
failed=()
for version in "${versions[@]}"; do
    venv=".venv-torch-$version-py$python_version"
    if [ ! -x "$venv/bin/python" ]; then
        "$PYTHON" -m venv "$venv"
    fi
    pip() { "$venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }
    pip install "torch==$version"
    pip install -e ".[dev]"  # torch>=2.10 is met: the torch just installed stays
    echo "== torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'), Python $python_version"
    if ! "$venv/bin/python" -m pytest -m "slow or not slow" -q -p no:cacheprovider -rs "$@" \
        | grep -v '^DEBUG' | tail -n 20; then
        failed+=("$version")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed under torch ${failed[*]}" >&2
    exit 1
fi
