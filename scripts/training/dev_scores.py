"""Score dev caches with several frame models, keep their per-frame logits, and report dev AUC per family
for each model, for other per-clip aggregations of its frames, and for ensembles (mean logit per frame).

    python scripts/training/dev_scores.py --dev cache/z90_192/dfv_dev cache/z90_192/hv_dev \
        --out runs/devscores v2=detector/model/weights/deepfake-monitor-v2.pt \
        I1=runs/I1_s0/best_dev.pt:192,128,0 I2=runs/I2_s0/best_dev.pt:192,128,96

A model is NAME=PATH, PATH being a checkpoint (`train`'s final.pt, a shipped model) or, with
`:ALIGN,FACE,MOUTH`, a stage-1 state dict written by `train --dev` (best_dev.pt, epoch_N.pt) at zoom 0.9.
Frame logits are stored in OUT/NAME.npz and reused on the next call, so ensembles cost nothing more.
The clip score is the one `train --dev` reports (mean frame probability), so the figures match its log.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from detector.model.network import DeepfakeNet
from detector.model.registry import _with_motion_inputs, load_model
from detector.model.views import ViewSpec
from detector.training.dev import DevScores, item_mean, load_dev
from detector.training.frames import frame_outputs


def _net(spec: str) -> DeepfakeNet:
    path, _, views = spec.partition(":")
    if not views:
        return load_model(Path(path)).net
    align, face, mouth = (int(v) for v in views.split(","))
    net = DeepfakeNet(pretrained_backbone=False, views=ViewSpec(align, face, mouth, 0.9))
    net.load_state_dict(_with_motion_inputs(torch.load(path, map_location="cpu")))
    return net.eval()


def _logits(name: str, spec: str, pool, out: Path) -> np.ndarray:
    store = out / f"{name}.npz"
    keys = [f"{f.row.item}#{i}" for i, f in enumerate(pool.faces)]
    if store.is_file():
        saved = np.load(store, allow_pickle=False)
        if list(saved["keys"]) == keys:
            return saved["logits"].astype(np.float64)
    with torch.no_grad():
        _, logits = frame_outputs(_net(spec), [f.crop for f in pool.faces])
    np.savez(store, keys=np.array(keys), logits=logits)
    return logits.astype(np.float64)


def _aggregate(pool, logits: np.ndarray, how: str) -> DevScores:
    """Clip scores by `how`; `mean` is the product's (mean probability)."""
    if how == "mean":
        return item_mean(pool, dict(enumerate((1 / (1 + np.exp(-logits))).tolist())))
    base = item_mean(pool, dict(enumerate(logits.tolist())))  # labels/families per item
    per_item: dict[str, list[float]] = {}
    for face, z in zip(pool.faces, logits, strict=True):
        per_item.setdefault(face.row.item, []).append(float(z))
    q = {"median": 50, "p75": 75, "p90": 90}[how]
    scores = np.array([np.percentile(per_item[i], q) for i in base.items])
    return DevScores(base.items, base.labels, scores, base.families)


def _line(label: str, report: dict) -> str:
    fams = " ".join(f"{k[4:]}={v:.3f}" for k, v in report.items() if k.startswith("auc_"))
    return f"{label:<28} AUC {report['auc']:.3f}  {fams}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=PATH[:ALIGN,FACE,MOUTH]")
    parser.add_argument("--dev", nargs="+", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ensembles", type=int, default=2, help="largest ensemble size tried")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    pool = load_dev(args.dev)
    logits = {}
    for model in args.models:
        name, _, spec = model.partition("=")
        logits[name] = _logits(name, spec, pool, args.out)
    results = {}
    for name, z in logits.items():
        for how in ("mean", "median", "p75", "p90"):
            report = _aggregate(pool, z, how).report()
            results[f"{name} [{how}]"] = report
            print(_line(f"{name} [{how}]", report))
    for size in range(2, min(args.ensembles, len(logits)) + 1):
        for combo in itertools.combinations(logits, size):
            report = _aggregate(pool, np.mean([logits[n] for n in combo], axis=0), "mean").report()
            results["+".join(combo)] = report
            print(_line("+".join(combo), report))
    (args.out / "report.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
