#!/usr/bin/env bash
# I10: I8 with the face CNN at 192 px, the caches' full crops (issue 18 item 6: input size; I8 = 128,
# I9 = 160). ~2.25x I8's compute per face.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I8.sh --input-size 192 --out runs/I10_s${SEED:-0} "$@"
