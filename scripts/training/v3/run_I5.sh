#!/usr/bin/env bash
# I5: I4 without the mouth view (--mouth-size 0): v2's run-C recipe (from v1, labelled fakes 30 %,
# self-blends and warp-blends) on the new data (every labelled generator) with mesh masks, 128 px face
# view cut from the 192 px caches.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I2.sh --retime-share 0 --mouth-size 0 --out runs/I5_s${SEED:-0} "$@"
