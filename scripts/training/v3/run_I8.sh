#!/usr/bin/env bash
# I8: I5 with the face view at 160 px instead of 128 (the input-size sweep; same 192 px caches).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I5.sh --input-size 160 --out runs/I8_s${SEED:-0} "$@"
