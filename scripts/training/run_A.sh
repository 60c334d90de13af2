#!/usr/bin/env bash
# Run A: every ingredient, from the shipped v1 weights, judged on dev each epoch.
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/Hangz-nju-cuhk/Talking-Face_PC-AVS --holdout manifest/smeetrs/deep_avsr \
 --item-split images/utkface --val-fraction 0.1"
exec deepfake-monitor -v train --data cache/real_faces cache/package_faces cache/dfv_train cache/swaps \
  --dev cache/dfv_dev --out runs/A $SPLIT --init-from runs/v1.pt \
  --lr 3e-4 --epochs 6 --lstm-epochs 25 --still-clips 1500 --max-minutes 55 --stage2-minutes 12 --seed 0 "$@"
