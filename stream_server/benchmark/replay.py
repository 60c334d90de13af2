"""The alert rule and the calibration re-applied to stored per-frame scores, without the model.

The analyzer's raw output does not depend on the calibration or the alert rule (both act after the
model), so a benchmark's `frames.csv` and `clips.csv` hold everything needed to measure another
calibration or bound exactly as a live run would: `replay` gives the same outcomes `analyze_clip` would
have, and `sweep` the false-alert/time-to-alert trade-off as the bound varies.
"""

from __future__ import annotations

import csv
import math
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


TAIL_EXCURSIONS = 10  # the highest excursions the exponential tail is fitted to


def choose_bound(outcomes: list[ClipOutcome], info: ModelInfo, budget_per_hour: float) -> dict[str, Any]:
    """The alert bound for a false-alert budget, from the real clips alone; the higher of two answers:

    * counted: the lowest bound at which these clips raise at most `budget_per_hour` × their hours of
      alerts (with minutes of video and a budget of about one per hour, that is "none");
    * extrapolated: minutes of video cannot show a rate of one per hour, so the rate is extrapolated the
      way CUSUM theory says it behaves (Lorden 1971: the mean time between false alarms grows
      exponentially with the bound). Each excursion of a real face's evidence above zero has a peak;
      above the (k+1)-th highest peak u the excess of the k highest is taken as exponential with its
      mean m (peaks over a threshold), so excursions reach a bound h at the rate (k / hours) · exp(-(h - u) / m),
      set equal to the budget: h = u + m · ln(k / (hours · budget)).
    """
    reals = [o for o in outcomes if o.label == 0 and o.status is not ClipStatus.ERROR]
    if not any(o.frames for o in reals):
        raise LabelledError("choosing the alert bound needs real clips with scored frames")
    hours = sum(o.duration_s for o in reals) / 3600
    allowed = int(budget_per_hour * hours + 1e-9)
    floor = info.rule.clip - info.rule.drift + 1e-3
    counted = _counted_bound(reals, info, allowed, floor)
    peaks = sorted(excursion_peaks(reals, info), reverse=True)
    tail = _tail_bound(peaks, hours, budget_per_hour)
    bound = max(counted, tail if tail is not None else 0.0)
    figures = false_alerts(sweep_one(reals, info, bound))
    return {
        "bound": bound,
        "counted_bound": counted,
        "extrapolated_bound": tail,
        "excursions": len(peaks),
        "top_excursions": [round(p, 3) for p in peaks[: TAIL_EXCURSIONS + 1]],
        "allowed_alerts": allowed,
        **figures,
    }


def _counted_bound(reals: list[ClipOutcome], info: ModelInfo, allowed: int, floor: float) -> float:
    peaks = sorted({round(p, 6) for p in peak_evidence(reals, info, 0)})
    for bound in [floor] + [p + 1e-3 for p in peaks if p + 1e-3 > floor]:
        if false_alerts(sweep_one(reals, info, bound))["alerts"] <= allowed:
            return bound
    raise AssertionError("a bound above every peak raises no alert")  # pragma: no cover


def _tail_bound(peaks: list[float], hours: float, budget: float) -> float | None:
    """None when there are too few excursions (or no budget) to fit a tail to."""
    k = TAIL_EXCURSIONS
    if len(peaks) <= k or budget <= 0 or hours <= 0:
        return None
    u = peaks[k]
    mean_excess = sum(p - u for p in peaks[:k]) / k
    rate = k / hours
    return u + mean_excess * math.log(rate / budget) if rate > budget else u


def excursion_peaks(outcomes: list[ClipOutcome], info: ModelInfo) -> list[float]:
    """The peak of every excursion of a face's evidence above zero (with the bound out of reach)."""
    unbounded = replace(info.rule, bound=1e12)
    peaks: list[float] = []
    for o in outcomes:
        tracks: dict[int, TrackEvidence] = {}
        current: dict[int, float] = {}
        for f in sorted(o.frames, key=lambda f: f.t):
            evidence = tracks.setdefault(f.track, TrackEvidence(unbounded, False))
            step = evidence.update(None if f.raw is None else info.calibration.apply(f.raw), f.t, None)
            if step.evidence > 0:
                current[f.track] = max(current.get(f.track, 0.0), step.evidence)
            elif f.track in current:
                peaks.append(current.pop(f.track))
        peaks.extend(current.values())
    return peaks


def sweep_one(outcomes: list[ClipOutcome], info: ModelInfo, bound: float) -> list[ClipOutcome]:
    rule = replace(info.rule, bound=bound)
    out = []
    for o in outcomes:
        found = clip_alerts(o.frames, info, rule)
        first = None if found.first_alert_t is None else found.first_alert_t - o.start_t
        out.append(replace(o, alerts=found.alerts, first_alert_s=first))
    return out
