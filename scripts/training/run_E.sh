#!/usr/bin/env bash
# Run E: the recipe of C and D for 2 epochs (both peaked on dev at epoch 2 of 5), mean of the 2 epochs tried.
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/rizkiarm/LipNet --item-split images/utkface --item-split manifest/ --val-fraction 0.15"
exec deepfake-monitor -v train --data cache/z90/real_faces cache/z90/package_faces cache/z90/dfv_train cache/z90/swaps \
  --dev cache/z90/dfv_dev --out runs/E $SPLIT --init-from runs/v1.pt \
  --labelled-share 0.3 --lr 3e-4 --epochs 2 --lstm-epochs 25 --still-clips 800 --max-minutes 35 --stage2-minutes 12 --seed 2 --average-epochs 2 "$@"
