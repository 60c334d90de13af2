"""Calibrated probabilities: a monotone map from the model's raw output to P(fake) at equal priors.

Platt scaling (Platt 1999) fits `p = sigmoid(a · logit(raw) + b)` by weighted maximum likelihood. It is
the calibration that ships: two parameters are stable with the ~100 held-out clips there are to fit
them on, whereas isotonic regression (Zadrozny & Elkan 2002; pool-adjacent-violators, `fit_isotonic`)
learns a free step function that follows the fitting clips' noise — the `calibrate` command measures
both, cross-validated by clip, and reports the comparison (docs/MODEL.md).

"At equal priors" means the fit weighs the real and the fake class equally, whatever their counts, and
every clip equally within its class (a long clip must not outweigh ten short ones; its frames are
strongly correlated). The expected calibration error (`ece`) uses the same weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

EPS = 1e-6  # raw probabilities are clamped to [EPS, 1 - EPS] before taking log-odds (float32 saturates)
BINS = 10


class CalibrationError(ValueError):
    """A calibration that cannot be fitted or read (one line for the user)."""


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


@dataclass(frozen=True)
class Calibration:
    """`p = sigmoid(a · logit(raw) + b)`; identity (a = 1, b = 0) for checkpoints that carry none."""

    a: float = 1.0
    b: float = 0.0
    method: str = "identity"  # identity | platt
    clips: tuple[str, ...] = field(default=(), repr=False)  # the clips it was fitted on (its data list)
    metrics: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.a > 0 and math.isfinite(self.a) and math.isfinite(self.b)):
            raise CalibrationError(f"calibration slope must be a positive number (monotone), not a={self.a}")

    @property
    def identity(self) -> bool:
        return self.method == "identity"

    def apply(self, raw: float) -> float:
        """The calibrated probability of one raw model output."""
        if self.identity:
            return raw
        return sigmoid(self.a * logit(raw) + self.b)

    def apply_array(self, raw: np.ndarray) -> np.ndarray:
        if self.identity:
            return raw.astype(np.float64)
        x = np.clip(raw.astype(np.float64), EPS, 1 - EPS)
        return _sigmoid(self.a * np.log(x / (1 - x)) + self.b)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "clips": list(self.clips), "metrics": self.metrics}

    @staticmethod
    def from_dict(data: Any) -> Calibration:
        """Read a stored calibration (checkpoint entry or JSON file); CalibrationError when malformed."""
        if not isinstance(data, dict) or data.get("method") not in ("identity", "platt"):
            raise CalibrationError("a calibration needs method 'platt' (with a and b) or 'identity'")
        try:
            a, b = float(data.get("a", 1.0)), float(data.get("b", 0.0))
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"calibration a and b must be numbers: {exc}") from exc
        clips = tuple(str(c) for c in data.get("clips", ()))
        return Calibration(a, b, str(data["method"]), clips, dict(data.get("metrics", {})))


def read_calibration(path: Path) -> Calibration:
    """A calibration from a JSON file (`calibrate --json` writes one); CalibrationError when unusable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read calibration {path}: {exc}") from exc
    return Calibration.from_dict(data)


def balanced_weights(labels: np.ndarray, clip_ids: np.ndarray) -> np.ndarray:
    """Per-frame weights: each class sums to 1/2, each clip to an equal share of its class."""
    weights = np.zeros(labels.size, np.float64)
    for label in (0, 1):
        in_class = labels == label
        clips = np.unique(clip_ids[in_class])
        for clip in clips:
            mask = in_class & (clip_ids == clip)
            weights[mask] = 0.5 / (clips.size * mask.sum())
    return weights


def fit_platt(raw: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted logistic regression of the labels on logit(raw), by Newton's method with step halving.

    A tiny ridge keeps the Hessian invertible when the classes barely overlap.
    """
    if not ((labels == 0).any() and (labels == 1).any()):
        raise CalibrationError("calibration needs scored frames of both real and fake clips")
    clipped = np.clip(raw, EPS, 1 - EPS)
    design = np.stack([np.log(clipped / (1 - clipped)), np.ones_like(clipped)], axis=1)
    w = weights / weights.sum()
    theta = np.array([1.0, 0.0])
    loss = _platt_loss(theta, design, labels, w)
    for _ in range(100):
        p = _sigmoid(design @ theta)
        grad = design.T @ (w * (p - labels)) + 1e-6 * theta
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-6 and _platt_loss(theta - scale * step, design, labels, w) > loss:
            scale /= 2
        theta = theta - scale * step
        new = _platt_loss(theta, design, labels, w)
        if loss - new < 1e-12:
            break
        loss = new
    a, b = float(theta[0]), float(theta[1])
    if a <= 0:
        raise CalibrationError(
            f"the model's scores do not rise with fakeness on these clips (slope {a:.3f}): no monotone calibration"
        )
    return a, b


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1 + np.tanh(0.5 * x)))  # tanh form: no overflow for large |x|


def _platt_loss(theta: np.ndarray, design: np.ndarray, labels: np.ndarray, w: np.ndarray) -> float:
    z = design @ theta
    # log(1 + e^z) - y z, computed without overflow
    return float((w * (np.logaddexp(0, z) - labels * z)).sum() + 0.5e-6 * theta @ theta)


def fit_isotonic(raw: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted isotonic regression (pool adjacent violators): step knots (raw value, probability)."""
    order = np.argsort(raw, kind="stable")
    xs, ys, ws = raw[order], labels[order].astype(np.float64), weights[order]
    blocks: list[list[float]] = []  # [sum of w·y, sum of w, last x]
    for x, y, w in zip(xs, ys, ws, strict=True):
        blocks.append([w * y, w, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            wy, wt, last = blocks.pop()
            blocks[-1][0] += wy
            blocks[-1][1] += wt
            blocks[-1][2] = last
    knots = np.array([b[2] for b in blocks])
    values = np.array([b[0] / b[1] for b in blocks])
    return knots, values


def apply_isotonic(knots: np.ndarray, values: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The step function: each raw value takes the probability of the first block reaching it."""
    index = np.minimum(np.searchsorted(knots, raw, side="left"), knots.size - 1)
    return values[index]


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram's bins: mean predicted probability, observed fake share and weight of each."""

    predicted: np.ndarray
    observed: np.ndarray
    weight: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: the weight-averaged gap between prediction and observation."""
        total = self.weight.sum()
        return float((self.weight * np.abs(self.predicted - self.observed)).sum() / total) if total > 0 else 0.0


def reliability(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray, bins: int = BINS) -> Reliability:
    """Equal-width bins over [0, 1]; empty bins are left out."""
    index = np.minimum((probs * bins).astype(int), bins - 1)
    predicted, observed, weight = [], [], []
    for b in range(bins):
        mask = index == b
        w = weights[mask].sum()
        if w <= 0:
            continue
        predicted.append(float((weights[mask] * probs[mask]).sum() / w))
        observed.append(float((weights[mask] * labels[mask]).sum() / w))
        weight.append(float(w))
    return Reliability(np.array(predicted), np.array(observed), np.array(weight))
