#!/usr/bin/env bash
# I6: I5 without the harvest's training rows (dfv train + swap images as v2 had, on the 192 px caches
# with mesh masks): is it the new labelled fakes that cost the face swaps?
set -euo pipefail
cd "$(dirname "$0")/../../.."
. scripts/training/v3/common.sh
exec scripts/training/v3/run_I5.sh --data $C/real_faces $C/package_faces $C/dfv_train $C/swaps \
  --out runs/I6_s${SEED:-0} "$@"
