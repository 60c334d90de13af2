"""Probe: the geometry head fitted only on source-paired clips (labelled fakes whose manifest names their
source clip, and those source clips), judged on dev overall and within each dev source that holds both
real and fake clips. If face geometry carried what generators change, pairing would keep it; a footage
shortcut vanishes.

    python scripts/training/geometry_paired_probe.py
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from detector.model.geometry import GeometryHead
from detector.training.geometry_train import MeshFace, fit_head, mesh_faces
from detector.training.metrics import auc

C = Path("cache/z90_192")


def evaluate(head: GeometryHead, dev: list[MeshFace], name: str) -> None:
    per_item: dict[str, list[np.ndarray]] = defaultdict(list)
    meta = {}
    for f in dev:
        per_item[f.row.item].append(f.features)
        meta[f.row.item] = f.row
    items = sorted(per_item)
    y = np.array([meta[i].label for i in items])
    scores = np.array([np.mean(1 / (1 + np.exp(-head.logits(np.stack(per_item[i]))))) for i in items])
    families = [meta[i].family for i in items]
    parts = [f"AUC {auc(y, scores):.3f}"]
    for family in sorted({f for f, label in zip(families, y, strict=True) if label == 1}):
        keep = np.array([f == family for f in families]) | (y == 0)
        parts.append(f"{family} {auc(y[keep], scores[keep]):.3f}")
    by_source: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for item, score, label in zip(items, scores, y, strict=True):
        by_source[meta[item].group].append((int(label), float(score)))
    within = [
        auc(np.array([a for a, _ in v]), np.array([b for _, b in v]))
        for v in by_source.values()
        if len({a for a, _ in v}) == 2
    ]
    print(name, ", ".join(parts), f"| within-source mean {np.mean(within):.2f}", [f"{w:.2f}" for w in within])


def main() -> None:
    train = mesh_faces([C / "dfv_train", C / "hv_train"])["all"]
    dev = mesh_faces([C / "dfv_dev", C / "hv_dev"])["all"]
    fakes = [f for f in train if f.row.label == 1 and f.row.pair_of]
    sources = {f.row.pair_of for f in fakes}
    reals = [f for f in train if f.row.label == 0 and f.row.item in sources]
    print(f"paired: {len({f.row.item for f in fakes})} fake clips, {len({f.row.item for f in reals})} source clips")
    x = np.stack([f.features for f in fakes + reals])
    y = np.array([1.0] * len(fakes) + [0.0] * len(reals))
    for k in (8, 16, 32):
        evaluate(fit_head(x, y, k, 1e-2, 1.0), dev, f"paired, {k} components:")
    everything = mesh_faces([C / "dfv_train", C / "hv_train", C / "real_faces"])["all"]
    x = np.stack([f.features for f in everything])
    y = np.array([float(f.row.label) for f in everything])
    evaluate(fit_head(x, y, 16, 1e-2, 1.0), dev, "every training video, 16 components:")


if __name__ == "__main__":
    main()
