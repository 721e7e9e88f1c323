#!/usr/bin/env bash
# Set everything up and open the quick-start notebook (real MiniLM attention) in JupyterLab.
# Headless machines: `bash scripts/quickstart.sh --html` executes the notebook and writes
# artifacts/quickstart.html, a page that works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="$PWD/.venv/bin/python"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ "${1:-}" = "--html" ]; then
    mkdir -p artifacts
    "$PYTHON" scripts/report.py notebooks/quickstart.ipynb -o artifacts/quickstart.html
    echo "wrote artifacts/quickstart.html"
else
    ROOT_FLAG=""
    if [ "$(id -u)" = 0 ]; then ROOT_FLAG="--allow-root"; fi
    exec "$PYTHON" -m jupyter lab notebooks/quickstart.ipynb --ip=127.0.0.1 $ROOT_FLAG "$@"
fi
