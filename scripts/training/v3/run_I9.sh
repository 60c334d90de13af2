#!/usr/bin/env bash
# I9: I8 (every labelled generator, mesh masks, re-rendering 30 %) with the face CNN at 160 px instead of
# 128 (issue 18 item 6: input size; the caches' 192 px crops are resized to 160). ~1.6x the compute.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I8.sh --input-size 160 --out runs/I9_s${SEED:-0} "$@"
