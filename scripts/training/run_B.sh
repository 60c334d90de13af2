#!/usr/bin/env bash
# Run B: run A with tighter crops (alignment zoom 0.9 instead of 0.75).
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/Hangz-nju-cuhk/Talking-Face_PC-AVS --holdout manifest/smeetrs/deep_avsr \
 --item-split images/utkface --val-fraction 0.1"
exec deepfake-monitor -v train --data cache/z90/real_faces cache/z90/package_faces cache/z90/dfv_train cache/z90/swaps \
  --dev cache/z90/dfv_dev --out runs/B $SPLIT --init-from runs/v1.pt \
  --lr 3e-4 --epochs 6 --lstm-epochs 25 --still-clips 1500 --max-minutes 55 --stage2-minutes 12 --seed 0 "$@"
