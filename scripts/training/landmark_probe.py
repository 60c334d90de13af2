"""Probe: how far does landmark motion alone tell dev fakes from reals? (issue 18, item 5)

Per video item of the caches, the cached 468-point meshes (crop pixels, every analysed frame) are put in
a face frame (origin at the stable points' centre, unit = eye distance) and summarised per region
(mouth, eyes, brows, jaw, nose): motion (mean frame-to-frame displacement), jitter (mean second
difference), their ratio, temporal spread; the mouth opening's spread and lag-1 autocorrelation; the
mesh presence. A logistic regression is fitted on the training caches' videos and judged on dev by
family, like `train --dev`, and so are small GRUs over the per-frame trajectories (positions, changes
or both; `--parts`). With --scores (a `dev_scores.py` NAME.npz) the GRU's dev z-scores are also added to
that frame model's, to show how the two kinds of evidence combine (the weights are scanned, not chosen).

    python scripts/training/landmark_probe.py --train cache/z90_192/{dfv_train,hv_train,real_faces} \
        --dev cache/z90_192/dfv_dev cache/z90_192/hv_dev
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from detector.faces import mesh_topology as mt
from detector.training.cache_mesh import read_meshes
from detector.training.metrics import auc

REGIONS = {
    "mouth": mt.LIPS_OUTER + mt.LIPS_INNER,
    "eyes": mt.RIGHT_EYE + mt.LEFT_EYE,
    "brows": mt.RIGHT_BROW + mt.LEFT_BROW,
    "jaw": mt.FACE_OVAL,
    "nose": mt.NOSE,
}


def _items(cache: Path) -> dict[str, list[dict[str, str]]]:
    rows = defaultdict(list)
    with (cache / "index.csv").open() as f:
        for row in csv.DictReader(f):
            if row["kind"] == "video":
                rows[row["item"]].append(row)
    return rows


def _normalised(points: np.ndarray) -> np.ndarray:
    """(T, 468, 2) → face frame: stable-point centre at 0, eye distance 1."""
    centre = points[:, list(mt.STABLE)].mean(axis=1, keepdims=True)
    right = points[:, list(mt.RIGHT_EYE)].mean(axis=1)
    left = points[:, list(mt.LEFT_EYE)].mean(axis=1)
    scale = np.linalg.norm(left - right, axis=1)[:, None, None]
    return (points - centre) / np.maximum(scale, 1e-6)


def features(points: np.ndarray, presence: np.ndarray) -> np.ndarray:
    p = _normalised(points)
    out = []
    for idx in REGIONS.values():
        r = p[:, list(idx)]
        d1 = np.linalg.norm(np.diff(r, axis=0), axis=2).mean()
        d2 = np.linalg.norm(np.diff(r, n=2, axis=0), axis=2).mean()
        spread = r.std(axis=0).mean()
        out += [np.log(d1 + 1e-4), np.log(d2 + 1e-4), np.log((d2 + 1e-4) / (d1 + 1e-4)), np.log(spread + 1e-4)]
    gap = np.linalg.norm(p[:, mt.LOWER_LIP_INNER] - p[:, mt.UPPER_LIP_INNER], axis=1)
    g = gap - gap.mean()
    ac = float((g[1:] * g[:-1]).sum() / max((g * g).sum(), 1e-9))
    out += [np.log(gap.std() + 1e-4), ac, gap.mean(), float(presence.mean()), float(presence.min())]
    return np.array(out, np.float64)


def trajectory(points: np.ndarray) -> np.ndarray:
    """(T, 468, 2) → (T, D): the face-frame positions of the outline, lips, eyes, brows and nose points
    and their change since the previous frame (the per-frame motion input issue 18 asks of the LSTM)."""
    idx = sorted({i for region in REGIONS.values() for i in region})
    p = _normalised(points)[:, idx].reshape(len(points), -1)
    return np.concatenate([p, np.diff(p, axis=0, prepend=p[:1])], axis=1).astype(np.float32)


def load(caches: list[Path], min_frames: int = 8):
    feats, labels, families, names = [], [], [], []
    trajectories = []
    for cache in caches:
        meshes = read_meshes(cache)
        for item, rows in _items(cache).items():
            rows = sorted(rows, key=lambda r: int(r["frame"]))
            found = [meshes.get(r["file"]) for r in rows]
            found = [m for m in found if m is not None]
            if len(found) < min_frames:
                continue
            pts = np.stack([m.points for m in found])
            pres = np.array([m.presence for m in found])
            feats.append(features(pts, pres))
            trajectories.append(trajectory(pts))
            labels.append(int(rows[0]["label"]))
            families.append(rows[0]["family"] or "real")
            names.append(item)
    load.trajectories = trajectories  # type: ignore[attr-defined]
    return np.stack(feats), np.array(labels), families, names


def gru_scores(train: list[np.ndarray], ytr: np.ndarray, dev: list[np.ndarray], epochs: int, seed: int) -> np.ndarray:
    """A small GRU over landmark trajectories: random 16-frame windows of the training videos, classes
    weighted equally; a dev video's score is its mean window logit."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    allf = np.concatenate(train)
    mu, sd = allf.mean(0), allf.std(0) + 1e-6
    basis = np.linalg.svd((allf - mu) / sd, full_matrices=False)[2][:32].T  # PCA to 32
    proj = [torch.tensor(((t - mu) / sd) @ basis, dtype=torch.float32) for t in train]
    devp = [torch.tensor(((t - mu) / sd) @ basis, dtype=torch.float32) for t in dev]
    gru = torch.nn.GRU(32, 32, batch_first=True)
    head = torch.nn.Linear(32, 1)
    params = [*gru.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2)
    win = 16
    real = np.flatnonzero(ytr == 0)
    fake = np.flatnonzero(ytr == 1)
    for _ in range(epochs):
        for _ in range(20):
            picks = np.concatenate([rng.choice(real, 16), rng.choice(fake, 16)])
            xs = []
            for i in picks:
                t = proj[i]
                s0 = int(rng.integers(max(1, len(t) - win + 1)))
                w = t[s0 : s0 + win]
                xs.append(torch.nn.functional.pad(w, (0, 0, 0, win - len(w))))
            x = torch.stack(xs) + 0.05 * torch.randn(len(xs), win, 32)
            y = torch.tensor([0.0] * 16 + [1.0] * 16)
            out, _ = gru(x)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(out[:, -1])[:, 0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    scores = []
    with torch.no_grad():
        for t in devp:
            starts = range(0, max(1, len(t) - win + 1), win // 2)
            out, _ = gru(
                torch.stack(
                    [torch.nn.functional.pad(t[s : s + win], (0, 0, 0, win - len(t[s : s + win]))) for s in starts]
                )
            )
            scores.append(float(head(out[:, -1]).mean()))
    return np.array(scores)


def _frame_positions(train: list[np.ndarray], ytr: np.ndarray, dev: list[np.ndarray], half: int) -> np.ndarray:
    """No time at all: a logistic unit on 32 principal components of each frame's positions, clip mean."""
    frames = np.concatenate([t[:, :half] for t in train])
    mu, sd = frames.mean(0), frames.std(0) + 1e-6
    basis = np.linalg.svd((frames - mu) / sd, full_matrices=False)[2][:32].T
    x = ((frames - mu) / sd) @ basis
    y = np.concatenate([[label] * len(t) for t, label in zip(train, ytr, strict=True)])
    model = fit(x, y)
    return np.array([predict(model, ((t[:, :half] - mu) / sd) @ basis).mean() for t in dev])


def _frame_logits(path: Path, names: list[str]) -> np.ndarray:
    """Per-item logit of the mean frame probability, from a dev_scores.py NAME.npz."""
    saved = np.load(path)
    per_item = defaultdict(list)
    for key, z in zip(saved["keys"], saved["logits"], strict=True):
        per_item[str(key).rsplit("#", 1)[0]].append(float(z))
    frame = np.array([np.mean(1 / (1 + np.exp(-np.array(per_item[n])))) for n in names])
    return np.log(frame / (1 - frame))


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, np.ndarray, torch.nn.Linear]:
    mu, sd = x.mean(0), x.std(0) + 1e-9
    xt = torch.tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    w = (yt == 0).sum() / (yt == 1).sum()  # equal class weight
    lin = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=500)

    def closure():
        opt.zero_grad()
        z = lin(xt)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yt, pos_weight=w) + l2 * (lin.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mu, sd, lin


def predict(model, x: np.ndarray) -> np.ndarray:
    mu, sd, lin = model
    with torch.no_grad():
        return lin(torch.tensor((x - mu) / sd, dtype=torch.float32))[:, 0].numpy().astype(np.float64)


def report(labels: np.ndarray, scores: np.ndarray, families: list[str]) -> str:
    parts = [f"AUC {auc(labels, scores):.3f}"]
    real = labels == 0
    for fam in sorted({f for f, y in zip(families, labels, strict=True) if y == 1}):
        keep = np.array([f == fam for f in families]) | real
        parts.append(f"{fam} {auc(labels[keep], scores[keep]):.3f}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", type=Path, required=True)
    parser.add_argument("--dev", nargs="+", type=Path, required=True)
    parser.add_argument("--l2", type=float, default=1e-2)
    parser.add_argument("--parts", nargs="+", default=["both"], choices=["both", "positions", "changes"])
    parser.add_argument("--epochs", nargs="+", type=int, default=[10])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scores", type=Path, help="a dev_scores.py NAME.npz to fuse with")
    args = parser.parse_args()
    xtr, ytr, _, _ = load(args.train)
    ttr = load.trajectories  # type: ignore[attr-defined]
    xdv, ydv, fdv, ndv = load(args.dev)
    tdv = load.trajectories  # type: ignore[attr-defined]
    print(
        f"train: {int((ytr == 0).sum())} real, {int(ytr.sum())} fake videos; "
        f"dev: {int((ydv == 0).sum())} real, {int(ydv.sum())} fake"
    )
    model = fit(xtr, ytr, args.l2)
    print("train (fitted on):", report(ytr, predict(model, xtr), ["x"] * len(ytr)))
    motion = predict(model, xdv)
    print("dev, motion alone:", report(ydv, motion, fdv))
    half = ttr[0].shape[1] // 2
    print(
        "dev, per-frame logistic on 32 components of the positions:",
        report(ydv, _frame_positions(ttr, ytr, tdv, half), fdv),
    )
    parts = {"both": slice(None), "positions": slice(0, half), "changes": slice(half, None)}
    frame_logit = _frame_logits(args.scores, ndv) if args.scores else None
    if frame_logit is not None:
        print("dev, frame model:", report(ydv, frame_logit, fdv))
    for part in args.parts:
        cut = parts[part]
        for epochs in args.epochs:
            runs = [
                gru_scores([t[:, cut] for t in ttr], ytr, [t[:, cut] for t in tdv], epochs, s)
                for s in range(args.seeds)
            ]
            for s, g in enumerate(runs):
                print(f"dev, GRU on {part} ({epochs} epochs, seed {s}):", report(ydv, g, fdv))
            mean = np.mean([(g - g.mean()) / g.std() for g in runs], axis=0)
            print(f"dev, GRU on {part} ({epochs} epochs, mean of {args.seeds} seeds):", report(ydv, mean, fdv))
            if frame_logit is not None:
                fz = (frame_logit - frame_logit.mean()) / frame_logit.std()
                for w in (0.5, 1.0):
                    print(f"  fused: frame z + {w} x GRU z:", report(ydv, fz + w * mean, fdv))


if __name__ == "__main__":
    main()
