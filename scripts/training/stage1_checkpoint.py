"""Wrap a stage-1 state dict written by `train --dev` (best_dev.pt, epoch_N.pt) as a checkpoint that
`train --init-from`, `benchmark --weights` or `analyze --weights` can load.

    python scripts/training/stage1_checkpoint.py runs/C/best_dev.pt runs/C/best_dev_ckpt.pt --zoom 0.9
    python scripts/training/stage1_checkpoint.py runs/I2_s0/best_dev.pt runs/I2_s0/best.pt \
        --align 192 --face 128 --mouth 96 --zoom 0.9
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from detector.model.network import DeepfakeNet
from detector.model.registry import _with_motion_inputs, save_checkpoint
from detector.model.views import ViewSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--align", type=int, default=128, help="side of the aligned crops the run trained on")
    parser.add_argument("--face", type=int, default=0, help="face view side (default: --align)")
    parser.add_argument("--mouth", type=int, default=0, help="mouth view side (0: none)")
    parser.add_argument("--zoom", type=float, default=0.9)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    views = ViewSpec(args.align, args.face or args.align, args.mouth, args.zoom)
    net = DeepfakeNet(pretrained_backbone=False, views=views)
    net.load_state_dict(_with_motion_inputs(torch.load(args.source, map_location="cpu")))
    recipe = {"from": str(args.source)}
    save_checkpoint(net, args.target, trained=True, threshold=args.threshold, metrics={}, recipe=recipe)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
