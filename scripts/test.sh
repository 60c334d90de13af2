#!/usr/bin/env bash
# Install everything into .venv and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch==2.13.0 is pinned in pyproject: pip takes the CPU build from this machine's disk.
.venv/bin/pip install -q -e ".[test]"
.venv/bin/ruff check detector stream_server tests
.venv/bin/mypy
exec .venv/bin/pytest "$@"
