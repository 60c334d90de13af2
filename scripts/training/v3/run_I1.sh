#!/usr/bin/env bash
# I1: v2's recipe on every labelled generator (deepfake_videos train + harvest train + swap images), from
# ImageNet instead of v1, the face backbone's early blocks at a tenth of the learning rate, 128 px face view
# cut from the 192 px crops. Frame model only (stage 2 skipped: --lstm-epochs 0).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. scripts/training/v3/common.sh
SEED=${SEED:-0}
exec deepfake-monitor -v train --data $DATA --dev $DEV --out runs/I1_s$SEED $SPLIT \
  --input-size 128 --backbone-lr 0.1 --labelled-share 0.3 --lr 3e-4 --epochs 3 \
  --lstm-epochs 0 --still-clips 0 --max-minutes 100 --stage2-minutes 3 --seed $SEED --threads 1 "$@"
