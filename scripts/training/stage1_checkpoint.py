"""Wrap a stage-1 state dict written by `train --dev` (best_dev.pt, epoch_N.pt) as a checkpoint that
`train --init-from` (or `analyze --weights`) can load.

    python scripts/training/stage1_checkpoint.py runs/C/best_dev.pt runs/C/best_dev_ckpt.pt 0.9
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from detector.model.network import DeepfakeNet
from detector.model.registry import _with_motion_inputs, save_checkpoint


def main() -> None:
    source, target, zoom = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    net = DeepfakeNet(pretrained_backbone=False)
    net.load_state_dict(_with_motion_inputs(torch.load(source, map_location="cpu")))
    save_checkpoint(net, target, trained=True, threshold=0.5, metrics={}, recipe={"from": str(source)}, crop_zoom=zoom)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
