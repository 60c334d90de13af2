"""Benchmark figures from clip outcomes: AUC/AP/EER overall, per family and per generator (each family's
fakes against the same reals), rates at the shipped threshold, TPR at fixed video FPRs, time to first
alert and false alerts per hour with its 95 % upper bound. Pure functions of the outcomes, so hand-made
lists give known values."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from detector.training.metrics import auc, average_precision, eer, roc_curve
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus

FPR_POINTS = (0.01, 0.05)


def separation(outcomes: list[ClipOutcome]) -> dict[str, Any]:
    """AUC, AP and EER of the scored clips; None where a class is missing."""
    scored = [o for o in outcomes if o.video_score is not None]
    labels = np.array([o.label for o in scored])
    scores = np.array([o.video_score for o in scored], np.float64)
    out: dict[str, Any] = {"reals": int((labels == 0).sum()), "fakes": int((labels == 1).sum())}
    if not (labels == 0).any() or not (labels == 1).any():
        return {**out, "auc": None, "ap": None, "eer": None, **{_tpr_key(p): None for p in FPR_POINTS}}
    roc = roc_curve(labels, scores)
    return {
        **out,
        "auc": auc(labels, scores),
        "ap": average_precision(labels, scores),
        "eer": eer(labels, scores),
        **{_tpr_key(p): tpr_at_fpr(roc.fpr, roc.tpr, p) for p in FPR_POINTS},
    }


def _tpr_key(fpr: float) -> str:
    return f"tpr_at_{round(fpr * 100)}pct_fpr"


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> float:
    """The highest true-positive rate of an ROC point whose false-positive rate is at most `max_fpr`."""
    return float(tpr[fpr <= max_fpr + 1e-12].max())


def by_key(outcomes: list[ClipOutcome], key: str) -> dict[str, dict[str, Any]]:
    """`separation` for each family (or generator): its fakes against every real clip."""
    reals = [o for o in outcomes if o.label == 0]
    names = sorted({getattr(o, key) or "unknown" for o in outcomes if o.label == 1})
    return {
        n: separation(reals + [o for o in outcomes if o.label == 1 and (getattr(o, key) or "unknown") == n])
        for n in names
    }


def at_threshold(outcomes: list[ClipOutcome], threshold: float) -> dict[str, Any]:
    """The product's verdict counts per class, and video FPR/TPR of the scored clips at `threshold`."""
    out: dict[str, Any] = {"threshold": threshold}
    for label, name in ((0, "real"), (1, "fake")):
        clips = [o for o in outcomes if o.label == label]
        with_score = [o for o in clips if o.video_score is not None]
        counts = {v: sum(1 for o in with_score if o.verdict == v) for v in ("real", "uncertain", "fake")}
        counts["no_score"] = len(clips) - len(with_score)
        scored = [o.video_score for o in clips if o.video_score is not None]
        rate = float(np.mean([s >= threshold for s in scored])) if scored else None
        out[f"verdicts_{name}"] = counts
        out["video_fpr" if label == 0 else "video_tpr"] = rate
    return out


def quantile_or_never(times: list[float | None], q: float) -> float | None:
    """The q-quantile of first-alert times, a clip that never alerted counting as later than any other;
    None when the quantile falls on such a clip (more than 1 - q of the clips never alerted)."""
    if not times:
        return None
    ordered = sorted(np.inf if t is None else t for t in times)
    value = float(np.quantile(ordered, q, method="inverted_cdf"))
    return None if np.isinf(value) else value


def time_to_alert(outcomes: list[ClipOutcome]) -> dict[str, Any]:
    """Seconds of video before the first alert on scored fake clips: over all of them (a clip that never
    alerts counting as the latest) and over those that alerted."""
    fakes = [o for o in outcomes if o.label == 1 and o.status is ClipStatus.SCORED]
    times = [o.first_alert_s for o in fakes]
    alerted = [t for t in times if t is not None]
    return {
        "clips": len(fakes),
        "alerted": len(alerted),
        "share_alerted": len(alerted) / len(fakes) if fakes else None,
        "median_s": quantile_or_never(times, 0.5),
        "p90_s": quantile_or_never(times, 0.9),
        "median_alerted_s": quantile_or_never(list(alerted), 0.5),
        "p90_alerted_s": quantile_or_never(list(alerted), 0.9),
    }


def poisson_upper(count: int, level: float = 0.95) -> float:
    """One-sided upper confidence bound on a Poisson mean after observing `count` events (exact).

    With no event it is -ln(1 - level): 3.0 at 95 %, the "rule of three".
    """
    if count == 0:
        return -math.log(1 - level)

    def cdf(mean: float) -> float:  # P(X <= count)
        term = total = math.exp(-mean)
        for k in range(1, count + 1):
            term *= mean / k
            total += term
        return total

    low, high = float(count), float(count) + 10 * math.sqrt(count + 1) + 10
    for _ in range(200):
        mid = (low + high) / 2
        if cdf(mid) > 1 - level:
            low = mid
        else:
            high = mid
    return high


def false_alerts(outcomes: list[ClipOutcome]) -> dict[str, Any]:
    """Alerts started on real clips per hour of analyzed real video, with a 95 % upper bound."""
    reals = [o for o in outcomes if o.label == 0 and o.status is not ClipStatus.ERROR]
    hours = sum(o.duration_s for o in reals) / 3600
    count = sum(o.alerts for o in reals)
    upper = poisson_upper(count) / hours if hours > 0 else None
    return {
        "alerts": count,
        "real_hours": hours,
        "per_hour": count / hours if hours > 0 else None,
        "per_hour_upper95": upper,
        "real_clips": len(reals),
        "real_clips_with_alert": sum(1 for o in reals if o.alerts),
        "note": _rate_note(count, hours, upper),
    }


def _rate_note(count: int, hours: float, upper: float | None) -> str:
    if upper is None:
        return "no real video analyzed"
    if count == 0:
        return (
            f"no false alert in {hours * 60:.1f} min of real video; the 95 % upper bound is 3 / {hours:.3f} h = "
            f"{upper:.1f} per hour (rule of three): {hours * 60:.0f} minutes cannot show a rate under "
            f"{upper:.0f} per hour, let alone under 1 per hour"
        )
    return f"{count} false alerts in {hours * 60:.1f} min of real video; 95 % upper bound {upper:.1f} per hour"


def unscored(outcomes: Iterable[ClipOutcome]) -> list[dict[str, str]]:
    """Every clip without a score, with its status and reason: listed, never silently dropped."""
    return [
        {"clip": o.name, "label": "fake" if o.label else "real", "status": o.status.value, "reason": o.reason}
        for o in outcomes
        if o.video_score is None
    ]


def summarize(outcomes: list[ClipOutcome], threshold: float) -> dict[str, Any]:
    """Every figure of the report (without the protocol)."""
    status = {s.value: sum(1 for o in outcomes if o.status is s) for s in ClipStatus}
    return {
        "clips": len(outcomes),
        "status": status,
        "overall": separation(outcomes),
        "per_family": by_key(outcomes, "family"),
        "per_generator": by_key(outcomes, "generator"),
        "at_threshold": at_threshold(outcomes, threshold),
        "time_to_first_alert": time_to_alert(outcomes),
        "false_alerts": false_alerts(outcomes),
        "unscored": unscored(outcomes),
    }
