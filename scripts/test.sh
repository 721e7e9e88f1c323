#!/usr/bin/env bash
# Set everything up, then run every test: linters, types, JS unit tests, Python, browser,
# notebooks and JupyterLab end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0

echo "== lint: ruff, mypy, biome"
"$PYTHON" -m ruff check src tests benchmarks scripts
"$PYTHON" -m ruff format --check src tests benchmarks scripts
"$PYTHON" -m mypy
npm run lint

echo "== JS unit tests (vitest)"
npm test

echo "== Python, browser, notebook and JupyterLab tests (pytest)"
"$PYTHON" -m pytest tests/python tests/browser tests/notebooks tests/e2e --doctest-modules src/attnwidgets -q -p no:cacheprovider "$@"
