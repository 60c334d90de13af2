"""The alert rule and the calibration re-applied to stored per-frame scores, without the model.

The analyzer's raw output does not depend on the calibration or the alert rule (both act after the
model), so a benchmark's `frames.csv` and `clips.csv` hold everything needed to measure another
calibration or bound exactly as a live run would: `replay` gives the same outcomes `analyze_clip` would
have, and `sweep` the false-alert/time-to-alert trade-off as the bound varies.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import ScoringConfig
from detector.evidence import AlertRule, TrackEvidence
from detector.labelled import LabelledError
from detector.scoring import verdict
from stream_server.benchmark.metrics import false_alerts, time_to_alert
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus, FrameRow

if TYPE_CHECKING:  # the pipeline pulls in torch; a replay needs only ModelInfo's fields
    from detector.pipeline import ModelInfo


def read_scores(folder: Path) -> list[ClipOutcome]:
    """The outcomes of an earlier `benchmark --out FOLDER`, each with its per-frame rows."""
    clips, frames = folder / "clips.csv", folder / "frames.csv"
    if not clips.is_file() or not frames.is_file():
        raise LabelledError(f"{folder}: no clips.csv and frames.csv (write them with benchmark --out)")
    rows: dict[str, list[FrameRow]] = defaultdict(list)
    with frames.open(newline="") as handle:
        for r in csv.DictReader(handle):
            raw = float(r["raw"]) if r["raw"] else None
            rows[r["clip"]].append(FrameRow(int(r["track"]), float(r["t"]), raw, r["reason"]))
    with clips.open(newline="") as handle:
        return [_outcome(r, tuple(rows.get(r["name"], ()))) for r in csv.DictReader(handle)]


def _outcome(r: dict[str, str], frames: tuple[FrameRow, ...]) -> ClipOutcome:
    def number(key: str) -> float | None:
        return float(r[key]) if r.get(key) else None

    return ClipOutcome(
        name=r["name"],
        label=int(r["label"]),
        family=r["family"],
        generator=r["generator"],
        status=ClipStatus(r["status"]),
        video_score=number("video_score"),
        verdict=r["verdict"] or None,
        duration_s=float(r["duration_s"]),
        frames_analyzed=int(r["frames_analyzed"]),
        frames_scored=int(r["frames_scored"]),
        faces_seen=int(r["faces_seen"]),
        alerts=int(r["alerts"]),
        first_alert_s=number("first_alert_s"),
        abstentions=int(r["abstentions"]),
        reason=r["reason"],
        start_t=number("start_t") or 0.0,
        frames=frames,
    )


@dataclass(frozen=True)
class ClipAlerts:
    alerts: int
    first_alert_t: float | None
    max_evidence: float


def clip_alerts(frames: tuple[FrameRow, ...], info: ModelInfo, rule: AlertRule | None = None) -> ClipAlerts:
    """The rule over one clip's faces, track by track, in time order (as the analyzer runs it)."""
    rule = rule or info.rule
    tracks: dict[int, TrackEvidence] = {}
    alerts, first, peak = 0, None, 0.0
    for f in sorted(frames, key=lambda f: f.t):  # stable: faces of one frame keep their order
        evidence = tracks.setdefault(f.track, TrackEvidence(rule, info.alerts_enabled))
        prob = None if f.raw is None else info.calibration.apply(f.raw)
        step = evidence.update(prob, f.t, None)
        peak = max(peak, step.evidence)
        if step.started:
            alerts += 1
            first = f.t if first is None else first
    return ClipAlerts(alerts, first, peak)


def replay(outcomes: list[ClipOutcome], info: ModelInfo, scoring: ScoringConfig) -> list[ClipOutcome]:
    """Each scored clip with its video score, verdict and alerts recomputed under `info`'s calibration,
    threshold and rule; clips without frames are returned as they were."""
    out = []
    for o in outcomes:
        if not o.frames:
            out.append(o)
            continue
        score, frames = video_score(o.frames, info)
        found = clip_alerts(o.frames, info)
        first = None if found.first_alert_t is None else found.first_alert_t - o.start_t
        judged = verdict(score, frames, info.threshold, scoring, info.trained).value if score is not None else None
        out.append(
            replace(o, video_score=score, verdict=judged, alerts=found.alerts, first_alert_s=first, frames=o.frames)
        )
    return out


def video_score(frames: tuple[FrameRow, ...], info: ModelInfo) -> tuple[float | None, int]:
    """Mean over analyzed frames of the highest calibrated probability among the frame's scored faces."""
    best: dict[float, float] = {}
    for f in frames:
        if f.raw is not None:
            prob = info.calibration.apply(f.raw)
            best[f.t] = max(best.get(f.t, 0.0), prob)
    if not best:
        return None, 0
    return float(np.mean(list(best.values()))), len(best)


def sweep(outcomes: list[ClipOutcome], info: ModelInfo, bounds: list[float]) -> list[dict[str, Any]]:
    """False alerts on the real clips and time to first alert on the fakes for each bound."""
    rows = []
    for bound in bounds:
        changed = sweep_one(outcomes, info, bound)
        rows.append(
            {"bound": bound, "false_alerts": false_alerts(changed), "time_to_first_alert": time_to_alert(changed)}
        )
    return rows


def peak_evidence(outcomes: list[ClipOutcome], info: ModelInfo, label: int) -> list[float]:
    """The highest evidence any face of each clip of a class reached (with the bound out of reach)."""
    unbounded = replace(info.rule, bound=1e12)
    return [clip_alerts(o.frames, info, unbounded).max_evidence for o in outcomes if o.label == label and o.frames]


def choose_bound(outcomes: list[ClipOutcome], info: ModelInfo, budget_per_hour: float) -> dict[str, Any]:
    """The lowest bound at which the real clips raise at most `budget_per_hour` × their hours of alerts.

    Candidates are the peak evidence values the real clips reach (just above each), so the answer is
    exact for these clips; the rule's own floor (one frame must not alert) comes first.
    """
    reals = [o for o in outcomes if o.label == 0 and o.status is not ClipStatus.ERROR]
    if not any(o.frames for o in reals):
        raise LabelledError("choosing the alert bound needs real clips with scored frames")
    hours = sum(o.duration_s for o in reals) / 3600
    allowed = int(budget_per_hour * hours + 1e-9)
    floor = info.rule.clip - info.rule.drift + 1e-3
    peaks = sorted({round(p, 6) for p in peak_evidence(reals, info, 0)})
    for bound in [floor] + [p + 1e-3 for p in peaks if p + 1e-3 > floor]:
        figures = false_alerts(sweep_one(reals, info, bound))
        if figures["alerts"] <= allowed:
            return {"bound": bound, "allowed_alerts": allowed, "real_clips": len(reals), **figures}
    raise AssertionError("a bound above every peak raises no alert")  # pragma: no cover


def sweep_one(outcomes: list[ClipOutcome], info: ModelInfo, bound: float) -> list[ClipOutcome]:
    rule = replace(info.rule, bound=bound)
    out = []
    for o in outcomes:
        found = clip_alerts(o.frames, info, rule)
        first = None if found.first_alert_t is None else found.first_alert_t - o.start_t
        out.append(replace(o, alerts=found.alerts, first_alert_s=first))
    return out
