"""`geometry-train`: fit the geometry head (detector.model.geometry) on the cached face meshes of
training videos and write a copy of a CNN checkpoint with it.

The head is a principal-component projection of the standardised face-frame positions followed by one
logistic unit, fitted on the training role of the caches (the same source-level split rule as `train`,
so held-out sources stay held out for calibration) with real and fake frames weighted equally. It is
fused with the CNN by adding `fuse` × its log-odds to the CNN's. By default `fuse` is 1 / the CNN's
Platt slope: the calibrated CNN log-odds plus the head's log-likelihood ratio (naive Bayes), so the
weight is fixed by held-out calibration clips, never by dev. The fused output's threshold keeps 5 % of
the held-out real frames above it, as `train` does; the checkpoint's calibration and alert bound are
dropped (they fitted the CNN alone) and `calibrate` must run again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detector.model.geometry import GeometryHead, face_frame
from detector.model.registry import load_model, with_geometry
from detector.training.cache import CachedFace, load_crop, read_index
from detector.training.cache_mesh import read_meshes, usable
from detector.training.data import SplitRule
from detector.training.dev import rows_mean
from detector.training.frames import frame_outputs
from detector.training.metrics import auc, threshold_for_fpr

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeometryConfig:
    caches: tuple[Path, ...]
    out: Path  # the checkpoint to write
    rule: SplitRule
    weights: Path | None = None  # the CNN checkpoint (default: the bundled one)
    dev: tuple[Path, ...] = ()
    components: int = 16
    l2: float = 1e-2
    fuse: float | None = None  # None: 1 / the CNN's Platt slope (1 when uncalibrated)
    max_fpr: float = 0.05
    threads: int = 1


@dataclass(frozen=True)
class MeshFace:
    """A cached face with a usable mesh: its row, cache and face-frame positions."""

    cache: Path
    row: CachedFace
    features: np.ndarray


def mesh_faces(
    caches: list[Path], rule: SplitRule | None = None, videos_only: bool = True
) -> dict[str, list[MeshFace]]:
    """Faces with a usable mesh by role ('train'/'val'/'test'; everything is 'all' without a rule)."""
    out: dict[str, list[MeshFace]] = defaultdict(list)
    for cache in caches:
        meshes = read_meshes(cache)
        for row in read_index(cache):
            points = usable(meshes.get(row.file))
            if points is None or (videos_only and row.kind != "video"):
                continue
            role = rule.role(row) if rule is not None else "all"
            out[role].append(MeshFace(cache, row, face_frame(points)))
    return out


def fit_head(features: np.ndarray, labels: np.ndarray, components: int, l2: float, fuse: float) -> GeometryHead:
    """PCA to `components`, then an L2-penalised logistic regression, real and fake weighted equally."""
    if labels.min() == labels.max():
        raise ValueError("the geometry head needs real and fake training faces with meshes")
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    z = (features - mean) / scale
    basis = np.linalg.svd(z, full_matrices=False)[2][:components].T
    x = torch.tensor(z @ basis, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    weights = torch.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = torch.zeros(components, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y, weight=weights)
        loss = loss + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return GeometryHead(mean, scale, basis, w.detach().numpy().copy(), float(b.item()), fuse)


def _cnn_logits(net: torch.nn.Module, faces: list[MeshFace]) -> np.ndarray:
    crops = [load_crop(f.cache, f.row) for f in faces]
    return frame_outputs(net, crops)[1].astype(np.float64)  # type: ignore[arg-type]


def train_geometry(config: GeometryConfig) -> dict[str, Any]:
    """Fit, measure (held-out frames, optionally dev) and write the fused checkpoint; returns the figures."""
    torch.set_num_threads(config.threads)
    model = load_model(config.weights)
    fuse = config.fuse if config.fuse is not None else 1.0 / model.calibration.a
    roles = mesh_faces(list(config.caches), config.rule)
    train, val = roles.get("train", []), roles.get("val", [])
    labels = np.array([f.row.label for f in train], np.float64)
    features = np.stack([f.features for f in train])
    logger.info("geometry head: %d training frames (%d fake), %d held-out", len(train), int(labels.sum()), len(val))
    head = fit_head(features, labels, config.components, config.l2, fuse)
    metrics: dict[str, Any] = {
        "train_frames": len(train),
        "train_items": len({f.row.item for f in train}),
        "train_frame_auc": auc(labels, head.logits(features)),
    }
    threshold = model.threshold
    if val:
        geo = fuse * head.logits(np.stack([f.features for f in val]))
        fused = _cnn_logits(model.net, val) + geo
        val_labels = np.array([f.row.label for f in val], np.float64)
        probs = 1 / (1 + np.exp(-fused))
        threshold = threshold_for_fpr(probs[val_labels == 0], config.max_fpr)
        metrics["val_frames"] = len(val)
        if 0 < val_labels.sum() < len(val_labels):
            metrics["val_frame_auc_fused"] = auc(val_labels, fused)
    metrics["threshold"] = threshold
    if config.dev:
        metrics.update(dev_report(model.net, head, list(config.dev)))
    info = {
        "recipe": {
            "caches": [str(c) for c in config.caches],
            "rule": {
                "holdout": list(config.rule.holdout),
                "item_split": list(config.rule.item_split),
                "val_fraction": config.rule.val_fraction,
            },
            "components": config.components,
            "l2": config.l2,
            "fuse": fuse,
            "fuse_rule": "given" if config.fuse is not None else "1 / CNN Platt slope",
            "cnn": str(config.weights) if config.weights else "bundled",
        },
        "metrics": metrics,
    }
    head = GeometryHead(head.mean, head.scale, head.basis, head.weight, head.bias, fuse, info)
    with_geometry(config.weights, config.out, head, threshold)
    logger.info("wrote %s (fuse %.3f, threshold %.3f)", config.out, fuse, threshold)
    return metrics


def dev_report(net: torch.nn.Module, head: GeometryHead, dev: list[Path]) -> dict[str, Any]:
    """Dev AUC per family of the CNN alone, the head alone and both fused (frames with a usable mesh)."""
    faces = mesh_faces(dev)["all"]
    cnn = _cnn_logits(net, faces)
    geo = head.fuse * head.logits(np.stack([f.features for f in faces]))
    out = {}
    for name, logits in (("dev_cnn", cnn), ("dev_geometry", geo), ("dev_fused", cnn + geo)):
        out[name] = rows_mean([f.row for f in faces], (1 / (1 + np.exp(-logits))).tolist()).report()
        logger.info("%s: %s", name, out[name])
    return out
