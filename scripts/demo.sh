#!/usr/bin/env bash
# Set everything up, train a small LSTM on text that ships with Python (no download; about
# two minutes on a laptop CPU), then print a sample from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/charnn train configs/quick.yaml --overwrite
.venv/bin/charnn sample runs/quick --length 600 --seed 7
