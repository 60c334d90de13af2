#!/usr/bin/env bash
# I7: I6 with the blend masks placed by the 5 keypoints (--no-mesh-masks): v2's run-C recipe reproduced
# on the 192 px caches (128 px face view, no mouth view, no re-timing, no harvest).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I6.sh --no-mesh-masks --out runs/I7_s${SEED:-0} "$@"
