#!/usr/bin/env bash
# Run D: run C with another seed, and the mean of the last 3 epochs tried against the best epoch.
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/rizkiarm/LipNet --item-split images/utkface --item-split manifest/ --val-fraction 0.15"
exec deepfake-monitor -v train --data cache/z90/real_faces cache/z90/package_faces cache/z90/dfv_train cache/z90/swaps \
  --dev cache/z90/dfv_dev --out runs/D $SPLIT --init-from runs/v1.pt \
  --labelled-share 0.3 --lr 3e-4 --epochs 5 --lstm-epochs 25 --still-clips 600 --max-minutes 45 --stage2-minutes 12 --seed 1 --average-epochs 3 "$@"
