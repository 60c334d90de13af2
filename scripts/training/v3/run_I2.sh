#!/usr/bin/env bash
# I2: the pseudo-fakes and views of issue 18 together, from v1 (self-blends only, never saw a labelled fake)
# as v2's run C did: blend masks from the 468-point mesh, mouth re-timing (--retime-share)
# (re-rendering joins in a later run), and the 96 px mouth view beside the 128 px face
# view. Labelled fakes at 30 % as in I1. Needs the mesh in the caches (`deepfake-monitor add-mesh`) and
# v1 at runs/v1.pt (`git show d4b43b6:detector/model/weights/deepfake-monitor-v1.pt > runs/v1.pt`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. scripts/training/v3/common.sh
SEED=${SEED:-0}
exec deepfake-monitor -v train --data $DATA --dev $DEV --out runs/I2_s$SEED $SPLIT --init-from runs/v1.pt \
  --input-size 128 --mouth-size 96 --labelled-share 0.3 --retime-share 0.3 --lr 3e-4 \
  --epochs 3 --lstm-epochs 0 --still-clips 0 --max-minutes 100 --stage2-minutes 3 --seed $SEED --threads 1 "$@"
