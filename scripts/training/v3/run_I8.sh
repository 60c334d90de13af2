#!/usr/bin/env bash
# I8: I5 (every labelled generator, mesh masks, 128 px face view) with re-rendered pseudo-fakes: 30 % of
# the synthetic slots painted through one of the committed autoencoders (whole crop or a landmark region
# pasted back), the decoder trace of talking-head, lip-sync and swap generators.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I5.sh --rerender-share 0.3 --out runs/I8_s${SEED:-0} "$@"
