"""Experiment (2026-12-01): the temporal head trained on real video runs against labelled fake video runs only
(no synthetic clips), on top of run F's frame model, judged on dev after every epoch. Usage: python THIS [lr]."""

import sys
from pathlib import Path

import numpy as np
import torch

from detector.model.registry import load_model
from detector.training.augment import post_augment, sample_post_augment
from detector.training.data import SplitRule, load_pools
from detector.training.dev import describe, dev_bank, head_scores, load_dev
from detector.training.frames import frame_outputs
from detector.training.temporal import ClipBank, head_parameters, reset_head, train_epoch

torch.set_num_threads(2)
torch.manual_seed(0)
rng = np.random.default_rng(0)
net = load_model(Path("runs/F/final.pt")).net
rule = SplitRule(
    ("images/lia", "videos/lia", "images/deca", "images/prnet_aflw2000", "manifest/rizkiarm/LipNet"),
    ("images/utkface", "manifest/"),
    0.15,
)
pools = load_pools([Path(p) for p in ["cache/z90/dfv_train", "cache/z90/swaps"]], rule)
pool = pools["train"]
L = 16
emb, lg, labels = [], [], []
for run in pool.runs:
    if len(run) < L:
        continue
    lab = pool.faces[run[0]].row.label
    for _ in range(2 if lab == 0 else 6):
        s = int(rng.integers(0, len(run) - L + 1))
        aug = sample_post_augment(rng)
        e, logits = frame_outputs(net, [post_augment(pool.faces[i].crop, aug) for i in run[s : s + L]])
        emb.append(e)
        lg.append(logits)
        labels.append(lab)
print("clips", len(labels), "fakes", sum(labels), flush=True)
bank = ClipBank(
    torch.from_numpy(np.stack(emb)),
    torch.from_numpy(np.stack(lg)),
    torch.from_numpy(np.repeat(np.array(labels, np.float32)[:, None], L, 1)),
    torch.tensor(labels, dtype=torch.float32),
)
dev = load_dev([Path("cache/z90/dfv_dev")])
db = dev_bank(net, dev)
print("epoch 0", describe(head_scores(net, dev, db).report()), flush=True)
for p in net.parameters():
    p.requires_grad_(False)
for p in head_parameters(net):
    p.requires_grad_(True)
reset_head(net, 0)
opt = torch.optim.AdamW(head_parameters(net), lr=float(sys.argv[1]) if len(sys.argv) > 1 else 1e-3, weight_decay=0.01)
for ep in range(12):
    loss = train_epoch(net, bank, opt, rng, window=8, batch=32)
    print(f"epoch {ep + 1} loss {loss:.3f}", describe(head_scores(net, dev, db).report()), flush=True)
