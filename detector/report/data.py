"""The values a report is made of, and `build_report`, which turns stored or live inputs into one."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detector.config import ScoringConfig
from detector.scoring import verdict
from detector.types import FaceState, RunFrame, Verdict

REPORT_VERSION = 2  # 2: calibrated probabilities, evidence, states and the frames behind each alert


class ReportError(OSError):
    """A report cannot be written (its directory is missing, not a directory or not writable)."""


@dataclass(frozen=True)
class ReportSource:
    """Where the frames came from; `location` is already safe to show (credentials masked)."""

    stream_id: str
    name: str
    kind: str  # file | url | upload | rtsp | webrtc | replay
    location: str
    sha256: str | None  # of the file's bytes; None for live sources
    started_wall: float | None  # unix seconds
    ended_wall: float | None  # None while the stream still runs


@dataclass(frozen=True)
class ReportModel:
    name: str
    software_version: str
    threshold: float
    trained: bool
    bound: float = 0.0  # the alert rule's evidence bound
    calibration: str = "identity"


@dataclass(frozen=True)
class ScorePoint:
    """One face in one analyzed frame, as the report needs it."""

    track_id: int
    t: float
    prob: float | None  # calibrated; None when the model abstained
    rolling: float | None
    abstain_reason: str | None = None
    raw: float | None = None  # the model's output before calibration
    evidence: float = 0.0
    judgement: FaceState = FaceState.GATHERING


@dataclass(frozen=True)
class EvidenceCrop:
    """A face crop kept as evidence: at an alert's start (`why="alert"`) or a track's top scores (`"peak"`)."""

    track_id: int
    t: float
    score: float | None  # rolling score for an alert, frame probability for a peak
    why: str
    jpeg: bytes

    def data_uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


@dataclass(frozen=True)
class ReportAlert:
    id: str
    track_id: int
    start_t: float
    end_t: float | None
    start_wall: float
    end_wall: float | None
    peak: float
    end_reason: str | None
    evidence: float = 0.0  # at the start
    peak_evidence: float = 0.0
    frames: tuple[RunFrame, ...] = ()  # the scored frames that built the evidence


@dataclass(frozen=True)
class Abstention:
    """Frames of one track the model declined to score, for one reason."""

    reason: str
    frames: int
    first_t: float
    last_t: float


@dataclass(frozen=True)
class TrackReport:
    track_id: int
    first_t: float
    last_t: float
    frames_seen: int
    frames_scored: int
    mean_prob: float | None
    max_rolling: float | None
    verdict: Verdict
    judgement: FaceState
    max_evidence: float
    points: tuple[ScorePoint, ...]
    abstentions: tuple[Abstention, ...]
    crops: tuple[EvidenceCrop, ...]
    alerts: tuple[ReportAlert, ...]


@dataclass(frozen=True)
class Report:
    source: ReportSource
    model: ReportModel
    generated_wall: float
    tracks: tuple[TrackReport, ...]
    alerts: tuple[ReportAlert, ...]
    meaning: str
    truncated: bool  # more score points were stored than the report reads

    @property
    def first_t(self) -> float | None:
        return min((t.first_t for t in self.tracks), default=None)

    @property
    def last_t(self) -> float | None:
        return max((t.last_t for t in self.tracks), default=None)

    def as_dict(self) -> dict[str, object]:
        """The same data the HTML shows, as JSON-ready values (crops as data: URIs)."""
        return {
            "report_version": REPORT_VERSION,
            "generated": round(self.generated_wall, 3),
            "source": _source_dict(self.source),
            "model": {
                "name": self.model.name,
                "software_version": self.model.software_version,
                "threshold": round(self.model.threshold, 4),
                "trained": self.model.trained,
                "bound": round(self.model.bound, 3),
                "calibration": self.model.calibration,
            },
            "first_t": _round(self.first_t),
            "last_t": _round(self.last_t),
            "meaning": self.meaning,
            "truncated": self.truncated,
            "alerts": [_alert_dict(a) for a in self.alerts],
            "tracks": [_track_dict(t) for t in self.tracks],
        }


def meaning_of(model: ReportModel) -> str:
    """The plain sentence a report carries about what its scores can and cannot tell."""
    if not model.trained:
        return (
            "This model is untrained: its scores exercise the software but say nothing about whether a face "
            "is real or fake, and no alerts were raised from them."
        )
    return (
        f"A probability is the model's estimate, calibrated on held-out clips with real and fake equally likely, "
        f"that a face was synthesised or manipulated. An alert is raised when a face's evidence (the log-odds of "
        f"its frames added up over time, each frame's share limited, draining back while the face looks real) "
        f"reaches {model.bound:.1f}. It means the model kept finding patterns it associates with deepfakes, not "
        f"that manipulation is proven, and a low score does not prove a face is genuine: compression, lighting, "
        f"pose and faces unlike its training data can move it either way. Treat it as a reason to look closer, "
        f"alongside other evidence."
    )


def build_report(
    source: ReportSource,
    model: ReportModel,
    points: Iterable[ScorePoint],
    alerts: Sequence[ReportAlert],
    crops: Iterable[EvidenceCrop],
    scoring: ScoringConfig,
    generated_wall: float,
    truncated: bool = False,
) -> Report:
    """Group everything by track and give each track its verdict (the rule `analyze` summaries use)."""
    by_track: dict[int, list[ScorePoint]] = defaultdict(list)
    for point in points:
        by_track[point.track_id].append(point)
    crops_of: dict[int, list[EvidenceCrop]] = defaultdict(list)
    for crop in crops:
        crops_of[crop.track_id].append(crop)
    ordered_alerts = tuple(sorted(alerts, key=lambda a: (a.start_t, a.track_id)))
    tracks = tuple(
        _track(track_id, sorted(pts, key=_time), crops_of[track_id], ordered_alerts, model, scoring)
        for track_id, pts in sorted(by_track.items())
    )
    return Report(source, model, generated_wall, tracks, ordered_alerts, meaning_of(model), truncated)


def _time(point: ScorePoint) -> float:
    return point.t


def _track(
    track_id: int,
    points: list[ScorePoint],
    crops: list[EvidenceCrop],
    alerts: tuple[ReportAlert, ...],
    model: ReportModel,
    scoring: ScoringConfig,
) -> TrackReport:
    probs = [p.prob for p in points if p.prob is not None]
    rolling = [p.rolling for p in points if p.rolling is not None]
    mean = sum(probs) / len(probs) if probs else None
    reached = max((p.judgement for p in points), key=lambda s: s.rank, default=FaceState.GATHERING)
    return TrackReport(
        track_id=track_id,
        first_t=points[0].t,
        last_t=points[-1].t,
        frames_seen=len(points),
        frames_scored=len(probs),
        mean_prob=mean,
        max_rolling=max(rolling) if rolling else None,
        verdict=verdict(mean, len(probs), model.threshold, scoring, model.trained),
        judgement=reached,
        max_evidence=max((p.evidence for p in points), default=0.0),
        points=tuple(points),
        abstentions=_abstentions(points),
        # Alert crops first (in time order), then the peaks from the highest score down.
        crops=tuple(sorted(crops, key=lambda c: (c.why != "alert", c.t if c.why == "alert" else -(c.score or 0)))),
        alerts=tuple(a for a in alerts if a.track_id == track_id),
    )


def _abstentions(points: list[ScorePoint]) -> tuple[Abstention, ...]:
    spans: dict[str, list[float]] = defaultdict(list)
    for point in points:
        if point.prob is None:
            spans[point.abstain_reason or "unknown"].append(point.t)
    return tuple(Abstention(reason, len(ts), ts[0], ts[-1]) for reason, ts in sorted(spans.items()))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _source_dict(source: ReportSource) -> dict[str, object]:
    return {
        "stream": source.stream_id,
        "name": source.name,
        "kind": source.kind,
        "location": source.location,
        "sha256": source.sha256,
        "started": _round(source.started_wall),
        "ended": _round(source.ended_wall),
    }


def _alert_dict(alert: ReportAlert) -> dict[str, object]:
    return {
        "id": alert.id,
        "track": alert.track_id,
        "start_t": _round(alert.start_t),
        "end_t": _round(alert.end_t),
        "start_wall": _round(alert.start_wall),
        "end_wall": _round(alert.end_wall),
        "peak": _round(alert.peak, 4),
        "end_reason": alert.end_reason,
        "evidence": _round(alert.evidence),
        "peak_evidence": _round(alert.peak_evidence),
        "frames": [f.as_list() for f in alert.frames],
    }


def _track_dict(track: TrackReport) -> dict[str, object]:
    return {
        "track": track.track_id,
        "first_t": _round(track.first_t),
        "last_t": _round(track.last_t),
        "frames_seen": track.frames_seen,
        "frames_scored": track.frames_scored,
        "judgement": track.judgement.value,
        "mean_prob": _round(track.mean_prob, 4),
        "max_rolling": _round(track.max_rolling, 4),
        "max_evidence": _round(track.max_evidence),
        "verdict": track.verdict.value,
        "abstentions": [
            {"reason": a.reason, "frames": a.frames, "first_t": _round(a.first_t), "last_t": _round(a.last_t)}
            for a in track.abstentions
        ],
        "alerts": [a.id for a in track.alerts],
        "crops": [
            {"t": _round(c.t), "score": _round(c.score, 4), "why": c.why, "image": c.data_uri()} for c in track.crops
        ],
        "points": [
            [
                _round(p.t),
                _round(p.prob, 4),
                _round(p.rolling, 4),
                p.abstain_reason,
                _round(p.raw, 4),
                _round(p.evidence),
            ]
            for p in track.points
        ],
    }
