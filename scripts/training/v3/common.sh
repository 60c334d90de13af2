# Shared by the v3 runs (docs/MODEL.md, "Ablations"): caches of crops aligned at 192 px, zoom 0.9
# (docs/MODEL.md "Reproduce" step 1), the same source-level split as v2, dev = deepfake_videos/dev + harvest dev.
C=${CACHE:-cache/z90_192}  # I11 sets CACHE=cache/z75_192 (crop margin)
DATA="$C/real_faces $C/package_faces $C/dfv_train $C/hv_train $C/swaps"
DEV="$C/dfv_dev $C/hv_dev"
SPLIT="--holdout images/lia --holdout videos/lia --holdout images/deca --holdout images/prnet_aflw2000 \
 --holdout manifest/rizkiarm/LipNet --item-split images/utkface --item-split manifest/ --val-fraction 0.15"
