"""The geometry head: fake evidence from where the face mesh puts a face's parts, fused with the CNN.

After the 5-point alignment a real face's 468-point mesh (outline, lips, eyes, brows, nose) still
varies with identity, expression and pose, but generators leave it subtly out of the range real faces
span: lip-sync paints a mouth that does not fit the face around it, talking-head and reenactment models
place parts by a learnt motion field. On the 42-fake dev set (generators never trained on) a linear
model on the first 16 principal components of these positions alone reaches video AUC ≈ 0.74 and
lip-sync ≈ 0.78, the family the CNN scores below chance (docs/MODEL.md, "Geometry head").

The head is numpy only: standardise, project on the principal components, one logistic unit. Its
log-odds are added to the CNN's, weighted by `fuse` (chosen when the head is trained and stored with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detector.faces import mesh_topology as mt

# The mesh points of the parts whose placement the head reads (the face oval, lips, eyes, brows, nose).
POINTS: tuple[int, ...] = tuple(
    sorted(
        {
            *mt.FACE_OVAL,
            *mt.LIPS_OUTER,
            *mt.LIPS_INNER,
            *mt.RIGHT_EYE,
            *mt.LEFT_EYE,
            *mt.RIGHT_BROW,
            *mt.LEFT_BROW,
            *mt.NOSE,
        }
    )
)
FEATURES = 2 * len(POINTS)


class GeometryError(ValueError):
    """A stored geometry head that does not fit this code."""


def face_frame(points: np.ndarray) -> np.ndarray:
    """(468, 2) mesh in aligned-crop pixels → (FEATURES,) positions of `POINTS` with the stable points'
    centre at the origin and the eye distance as unit (the same for any crop size or zoom)."""
    p = np.asarray(points, np.float64)
    centre = p[list(mt.STABLE)].mean(axis=0)
    return ((p[list(POINTS)] - centre) / max(mt.interocular(p), 1e-6)).ravel()


@dataclass(frozen=True)
class GeometryHead:
    """Standardise, project, logistic: `logit(points)` is the head's log-odds that a face is fake."""

    mean: np.ndarray = field(repr=False)  # (FEATURES,)
    scale: np.ndarray = field(repr=False)  # (FEATURES,)
    basis: np.ndarray = field(repr=False)  # (FEATURES, K) principal directions of the standardised features
    weight: np.ndarray = field(repr=False)  # (K,)
    bias: float
    fuse: float  # weight of the head's log-odds added to the CNN's
    info: dict[str, Any] = field(default_factory=dict)  # recipe and measured figures

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(N, FEATURES) face-frame positions → (N,) log-odds."""
        z = ((np.asarray(features, np.float64) - self.mean) / self.scale) @ self.basis
        return np.asarray(z @ self.weight + self.bias, np.float64)

    def logit(self, crop_points: np.ndarray) -> float:
        """Log-odds for one face's mesh in aligned-crop pixels."""
        return float(self.logits(face_frame(crop_points)[None])[0])

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": list(POINTS),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "basis": self.basis.tolist(),
            "weight": self.weight.tolist(),
            "bias": self.bias,
            "fuse": self.fuse,
            "info": self.info,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GeometryHead:
        if tuple(data.get("points", ())) != POINTS:
            raise GeometryError("geometry head was made for other mesh points")
        head = GeometryHead(
            mean=np.asarray(data["mean"], np.float64),
            scale=np.asarray(data["scale"], np.float64),
            basis=np.asarray(data["basis"], np.float64),
            weight=np.asarray(data["weight"], np.float64),
            bias=float(data["bias"]),
            fuse=float(data["fuse"]),
            info=dict(data.get("info", {})),
        )
        k = head.weight.shape[0]
        if head.mean.shape != (FEATURES,) or head.scale.shape != (FEATURES,) or head.basis.shape != (FEATURES, k):
            raise GeometryError("geometry head arrays have the wrong shapes")
        return head
