"""Judging a training run on `dev/`: labelled real and fake videos from generators it never trains on.

Self-blended validation has proved a poor guide (it rose while real-deepfake accuracy fell), so a run
given a dev cache picks its stage-1 checkpoint and its temporal head by what they do here. The score
of a video is the product's: the mean over analysed frames of the fake probability (the cache keeps
one face track per video, so the max over faces is that face).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from detector.model.network import DeepfakeNet
from detector.training.cache import CachedFace
from detector.training.data import FacePool, load_faces, video_runs
from detector.training.frames import frame_outputs
from detector.training.metrics import auc


def load_dev(caches: list[Path]) -> FacePool:
    """Every face of the dev caches, whatever their split: none of it is ever trained on."""
    faces = load_faces(caches)
    return FacePool(faces, video_runs(faces))


@dataclass(frozen=True)
class DevScores:
    """One score per dev item, with its label and family."""

    items: list[str]
    labels: np.ndarray
    scores: np.ndarray
    families: list[str] = field(repr=False)

    def report(self) -> dict[str, float | int]:
        """Video AUC overall and per family (each family's fakes against all reals)."""
        out: dict[str, float | int] = {"auc": auc(self.labels, self.scores), "fakes": int(self.labels.sum())}
        real = self.labels == 0
        for family in sorted({f for f, y in zip(self.families, self.labels, strict=True) if y == 1}):
            keep = np.array([f == family for f in self.families]) | real
            out[f"auc_{family}"] = auc(self.labels[keep], self.scores[keep])
        return out


def item_mean(pool: FacePool, face_probs: dict[int, float]) -> DevScores:
    """Mean probability per item over the faces that have one."""
    return rows_mean([pool.faces[i].row for i in face_probs], list(face_probs.values()))


def rows_mean(rows: list[CachedFace], probs: list[float]) -> DevScores:
    """Mean probability per item of the faces `rows` (one probability each), with its label and family."""
    per_item: dict[str, list[float]] = defaultdict(list)
    first: dict[str, CachedFace] = {}
    for row, p in zip(rows, probs, strict=True):
        per_item[row.item].append(p)
        first.setdefault(row.item, row)
    items = sorted(per_item)
    return DevScores(
        items=items,
        labels=np.array([first[i].label for i in items], np.float64),
        scores=np.array([float(np.mean(per_item[i])) for i in items]),
        families=[first[i].family or ("real" if first[i].label == 0 else "unknown") for i in items],
    )


def frame_model_scores(net: DeepfakeNet, pool: FacePool, bank: DevBank | None = None) -> DevScores:
    """Dev scores of the frame model alone (from `bank` when the crops are embedded already)."""
    logits = dev_bank(net, pool).logits if bank is None else bank.logits
    probs = 1 / (1 + np.exp(-logits.double().numpy()))
    return item_mean(pool, dict(enumerate(probs.tolist())))


@dataclass(frozen=True)
class DevBank:
    """Frozen-CNN outputs of every dev face, for scoring temporal heads quickly."""

    embeddings: torch.Tensor = field(repr=False)  # (N, D)
    logits: torch.Tensor = field(repr=False)  # (N,)


def dev_bank(net: DeepfakeNet, pool: FacePool) -> DevBank:
    emb, logits = frame_outputs(net, [f.crop for f in pool.faces])
    return DevBank(torch.from_numpy(emb.astype(np.float32)), torch.from_numpy(logits))


@torch.no_grad()
def head_scores(net: DeepfakeNet, pool: FacePool, bank: DevBank) -> DevScores:
    """Dev scores with the temporal head run over each video run from a fresh state (as a new track)."""
    net.eval()
    probs: dict[int, float] = {}
    for run in pool.runs:
        idx = torch.tensor(run)
        out, _ = net.forward_sequence(bank.embeddings[idx][None], bank.logits[idx][None])
        probs.update(zip(run, torch.sigmoid(out[0]).tolist(), strict=True))
    for i, face in enumerate(pool.faces):  # stills: the frame model's answer
        if face.row.kind == "image":
            probs[i] = float(torch.sigmoid(bank.logits[i]))
    return item_mean(pool, probs)


def describe(report: dict[str, float | int]) -> str:
    """One log line: overall and per-family dev AUC."""
    parts = [f"dev AUC {report['auc']:.3f}"]
    parts += [f"{k[4:]} {v:.3f}" for k, v in report.items() if k.startswith("auc_")]
    return ", ".join(parts)
