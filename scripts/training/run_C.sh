#!/usr/bin/env bash
# Run C: run B, but the wild real videos (VoxCeleb PC-AVS, LRS deep_avsr) train instead of calibrating
# (held out: GRID lab clips and ~15 % of every other source's clips), and 30 % labelled fakes instead of 50 %.
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/rizkiarm/LipNet --item-split images/utkface --item-split manifest/ --val-fraction 0.15"
exec deepfake-monitor -v train --data cache/z90/real_faces cache/z90/package_faces cache/z90/dfv_train cache/z90/swaps \
  --dev cache/z90/dfv_dev --out runs/C $SPLIT --init-from runs/v1.pt \
  --labelled-share 0.3 --lr 3e-4 --epochs 5 --lstm-epochs 25 --still-clips 1500 --max-minutes 50 --stage2-minutes 12 --seed 0 "$@"
