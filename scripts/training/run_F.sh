#!/usr/bin/env bash
# Run F: stage 2 only (the motion-aware LSTM head, chosen on dev) on top of run C's best stage-1 epoch (epoch 2).
#   first: python scripts/training/stage1_checkpoint.py runs/C/best_dev.pt runs/C/best_dev_ckpt.pt 0.9
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/rizkiarm/LipNet --item-split images/utkface --item-split manifest/ --val-fraction 0.15"
exec deepfake-monitor -v train --data cache/z90/real_faces cache/z90/package_faces cache/z90/dfv_train cache/z90/swaps \
  --dev cache/z90/dfv_dev --out runs/F $SPLIT --init-from runs/C/best_dev_ckpt.pt \
  --epochs 0 --lstm-epochs 25 --still-clips 600 --max-minutes 17 --stage2-minutes 12 --seed 0 "$@"
