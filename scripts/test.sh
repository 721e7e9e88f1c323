#!/usr/bin/env bash
# Set everything up, then run every test: linters, types, JS unit tests, Python, browser,
# notebooks and JupyterLab end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="$PWD/.venv/bin/python"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0
export ATTNWIDGETS_FAST="${ATTNWIDGETS_FAST:-1}"  # notebooks train briefly in the test run

echo "== lint: ruff, mypy, biome"
"$PYTHON" -m ruff check src tests benchmarks scripts
"$PYTHON" -m ruff format --check src tests benchmarks scripts
"$PYTHON" -m mypy
npm run lint

echo "== JS unit tests (vitest)"
npm test

# One pytest process per folder: each folder has its own conftest.py and browser fixtures
# (Playwright's sync API allows one running instance per thread).
failed=()
run_pytest() {
    echo "== pytest $*"
    "$PYTHON" -m pytest -q -p no:cacheprovider "$@" || failed+=("$*")
}
run_pytest --doctest-modules src/attnwidgets scripts/report.py
run_pytest tests/python
run_pytest tests/browser
run_pytest tests/adversarial
run_pytest tests/notebooks
run_pytest tests/e2e
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED pytest runs: ${failed[*]}"
    exit 1
fi
