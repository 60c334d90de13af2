#!/usr/bin/env bash
# Install everything into .venv and run the main job: the live server on the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
exec .venv/bin/deepfake-monitor serve --config config.yaml "$@"
