#!/usr/bin/env bash
# I11: I8 on crops aligned at zoom 0.75 instead of 0.9 (issue 18 item 6: crop margin; v1's margin, more
# background and the whole jaw line in view). Caches as in docs/MODEL.md "Toward v3" with
# --crop-zoom 0.75, under cache/z75_192.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CACHE=cache/z75_192
exec scripts/training/v3/run_I8.sh --out runs/I11_s${SEED:-0} "$@"
