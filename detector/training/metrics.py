"""Binary detection metrics in numpy: ROC, AUC, EER, average precision, rates at a threshold.

Label 1 = fake (positive), scores higher = more likely fake. Ties are handled exactly (AUC counts a tied
pair as one half), so hand-made score lists give textbook values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Roc:
    """ROC curve points from the highest threshold down; fpr/tpr start at 0."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class Rates:
    """Confusion-matrix rates at one threshold (score >= threshold → fake)."""

    threshold: float
    accuracy: float
    fpr: float
    tpr: float


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape or not ((y == 0).any() and (y == 1).any()):
        raise ValueError("need matching labels and scores with both classes present")
    return y, s


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> Roc:
    """ROC with one point per distinct score."""
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1 - y)[last_of_tie]
    return Roc(fpr=np.r_[0.0, fp / fp[-1]], tpr=np.r_[0.0, tp / tp[-1]], thresholds=np.r_[np.inf, s[last_of_tie]])


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids: a tied real/fake pair counts one half)."""
    roc = roc_curve(labels, scores)
    return float(np.trapezoid(roc.tpr, roc.fpr))


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where the false-positive rate equals the miss rate, interpolated on the ROC."""
    roc = roc_curve(labels, scores)
    fnr = 1.0 - roc.tpr
    diff = roc.fpr - fnr  # rises from -1 to +1 along the curve
    k = int(np.argmax(diff >= 0))
    if k == 0 or diff[k] == 0:
        return float(roc.fpr[k])
    # Linear interpolation between the two ROC points that straddle fpr == fnr.
    w = -diff[k - 1] / (diff[k] - diff[k - 1])
    return float(roc.fpr[k - 1] + w * (roc.fpr[k] - roc.fpr[k - 1]))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n over distinct thresholds (the step-wise, non-interpolated definition)."""
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tp / predicted
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def rates_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Rates:
    """Accuracy, false-positive and true-positive rate when score >= threshold means fake."""
    y, s = _check(labels, scores)
    pred = s >= threshold
    return Rates(
        threshold=float(threshold),
        accuracy=float(np.mean(pred == (y == 1))),
        fpr=float(np.mean(pred[y == 0])),
        tpr=float(np.mean(pred[y == 1])),
    )


def threshold_for_fpr(real_scores: np.ndarray, max_fpr: float) -> float:
    """Smallest threshold whose false-positive rate on `real_scores` is at most `max_fpr`."""
    s = np.sort(np.asarray(real_scores, dtype=np.float64).ravel())
    allowed = int(np.floor(max_fpr * s.size))  # real faces that may score at or above the threshold
    if allowed == 0:
        return float(np.nextafter(s[-1], np.inf))
    # Put the threshold just above the (allowed+1)-th highest score, so at most `allowed` reach it.
    return float(np.nextafter(s[s.size - allowed - 1], np.inf))
