"""`deepfake-monitor calibrate`: fit the calibration and choose the alert bound, in one run of the model.

Both are fitted on clips that are neither training nor judging clips: the calibration on their real and
fake faces (Platt scaling at equal priors, see detector/calibration.py), the bound on their real clips
for a false-alert budget (detector/evidence.py). The result is a copy of the checkpoint with both stored
in it, with the list of clips and the figures that chose them.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.calibration import (
    Calibration,
    apply_isotonic,
    balanced_weights,
    fit_isotonic,
    fit_platt,
    reliability,
)
from detector.labelled import LabelledError
from stream_server.benchmark.outcome import ClipOutcome
from stream_server.benchmark.replay import choose_bound

if TYPE_CHECKING:
    from detector.pipeline import ModelInfo

FOLDS = 5


class FrameSet:
    """The scored faces of a set of clips as arrays: raw output, label, clip index, weight."""

    def __init__(self, outcomes: list[ClipOutcome]) -> None:
        rows = [(f.raw, o.label, i) for i, o in enumerate(outcomes) for f in o.frames if f.raw is not None]
        if not rows:
            raise LabelledError("no scored face in these clips: nothing to calibrate on")
        self.raw = np.array([r[0] for r in rows], np.float64)
        self.labels = np.array([r[1] for r in rows], np.int64)
        self.clips = np.array([r[2] for r in rows], np.int64)
        self.names = [o.name for o in outcomes]
        self.weights = balanced_weights(self.labels, self.clips)

    def subset(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.raw[mask], self.labels[mask], balanced_weights(self.labels[mask], self.clips[mask])


def fit(outcomes: list[ClipOutcome]) -> Calibration:
    """Platt scaling on every scored face of these clips, with in-sample and cross-validated figures."""
    frames = FrameSet(outcomes)
    a, b = fit_platt(frames.raw, frames.labels, frames.weights)
    calibration = Calibration(a, b, "platt", tuple(sorted({frames.names[c] for c in np.unique(frames.clips)})))
    metrics = {
        "clips": {"real": _count(outcomes, 0), "fake": _count(outcomes, 1)},
        "frames": int(frames.raw.size),
        "ece": reliability(calibration.apply_array(frames.raw), frames.labels, frames.weights).ece,
        "ece_raw": reliability(frames.raw, frames.labels, frames.weights).ece,
        **cross_validated(frames),
        "weighting": "each class half the weight, each clip an equal share of its class",
    }
    return replace(calibration, metrics=metrics)


def _count(outcomes: list[ClipOutcome], label: int) -> int:
    return sum(1 for o in outcomes if o.label == label and any(f.raw is not None for f in o.frames))


def cross_validated(frames: FrameSet) -> dict[str, float]:
    """ECE of Platt and of isotonic regression when each clip is judged by a fit that never saw it."""
    fold = np.array([_fold(frames.names[c]) for c in frames.clips])
    platt = np.zeros_like(frames.raw)
    isotonic = np.zeros_like(frames.raw)
    for k in range(FOLDS):
        train, test = fold != k, fold == k
        if not test.any():
            continue
        raw, labels, weights = frames.subset(train)
        a, b = fit_platt(raw, labels, weights)
        platt[test] = Calibration(a, b, "platt").apply_array(frames.raw[test])
        knots, values = fit_isotonic(raw, labels, weights)
        isotonic[test] = apply_isotonic(knots, values, frames.raw[test])
    return {
        "ece_cv_platt": reliability(platt, frames.labels, frames.weights).ece,
        "ece_cv_isotonic": reliability(isotonic, frames.labels, frames.weights).ece,
    }


def _fold(name: str) -> int:
    """A stable fold per clip name (the same split on every machine)."""
    return int(hashlib.md5(name.encode()).hexdigest()[:8], 16) % FOLDS


def ece_of(outcomes: list[ClipOutcome], calibration: Calibration) -> dict[str, float]:
    """ECE of the raw and the calibrated per-frame probabilities on a set of clips (class-balanced)."""
    frames = FrameSet(outcomes)
    return {
        "ece": reliability(calibration.apply_array(frames.raw), frames.labels, frames.weights).ece,
        "ece_raw": reliability(frames.raw, frames.labels, frames.weights).ece,
    }


def bound_for_budget(outcomes: list[ClipOutcome], info: ModelInfo, budget_per_hour: float) -> dict[str, Any]:
    """The alert entry for the checkpoint: rule parameters and how the bound was chosen."""
    chosen = choose_bound(outcomes, info, budget_per_hour)
    return {
        "bound": round(chosen["bound"], 3),
        "clip": info.rule.clip,
        "drift": info.rule.drift,
        "chosen": {
            "budget_per_hour": budget_per_hour,
            "rule": "the higher of the lowest bound these real clips keep within the budget (counted) and the "
            "bound at which an exponential tail fitted to their 10 highest evidence excursions reaches the budget "
            "(extrapolated)",
            **{k: v for k, v in chosen.items() if k != "note"},
        },
    }


def plot_reliability(sets: dict[str, tuple[list[ClipOutcome], Calibration]], path: Path) -> None:
    """Reliability diagram: observed fake share against predicted probability, raw and calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--", label="perfect")
    for name, (outcomes, calibration) in sets.items():
        frames = FrameSet(outcomes)
        for label, probs, style in (
            ("raw", frames.raw, ":"),
            ("calibrated", calibration.apply_array(frames.raw), "-"),
        ):
            bins = reliability(probs, frames.labels, frames.weights)
            ax.plot(
                bins.predicted, bins.observed, style, marker="o", ms=3, label=f"{name}, {label}: ECE {bins.ece:.3f}"
            )
    ax.set(
        xlabel="predicted fake probability", ylabel="observed share of fake (equal priors)", xlim=(0, 1), ylim=(0, 1)
    )
    ax.set_title("reliability, per frame (10 bins, class-balanced)", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
