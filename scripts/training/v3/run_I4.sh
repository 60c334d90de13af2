#!/usr/bin/env bash
# I4: I2 without mouth re-timing (--retime-share 0): keeps the mesh masks and the 96 px mouth view, to
# tell which of I2's ingredients costs the face swaps.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I2.sh --retime-share 0 --out runs/I4_s${SEED:-0} "$@"
