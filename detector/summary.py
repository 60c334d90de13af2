"""Per-track and whole-video summaries of an analysis (the published protocol: for each analyzed
frame the highest probability over its faces, then the mean over frames). Probabilities are the
calibrated ones; the raw model output is kept beside them (`*_raw`) for experts. `judgement` is the most
severe state of the alert rule a face reached (alert > likely fake > uncertain > looks real > gathering)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from detector.config import ScoringConfig
from detector.scoring import verdict
from detector.types import FaceState, FrameResult, ScoreState, Verdict

if TYPE_CHECKING:  # the pipeline pulls in torch; summaries need only its ModelInfo's fields
    from detector.pipeline import ModelInfo


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    first_t: float
    last_t: float
    frames_seen: int
    frames_scored: int
    mean_prob: float | None
    max_rolling: float | None
    verdict: Verdict
    judgement: FaceState = FaceState.GATHERING
    max_evidence: float = 0.0
    mean_raw: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "track": self.track_id,
            "first_t": round(self.first_t, 3),
            "last_t": round(self.last_t, 3),
            "frames_seen": self.frames_seen,
            "frames_scored": self.frames_scored,
            "judgement": self.judgement.value,
            "mean_prob": _round(self.mean_prob),
            "max_rolling": _round(self.max_rolling),
            "max_evidence": round(self.max_evidence, 3),
            "verdict": self.verdict.value,
            "mean_raw": _round(self.mean_raw),
        }


@dataclass(frozen=True)
class VideoSummary:
    stream_id: str
    verdict: Verdict
    video_score: float | None
    threshold: float
    frames_analyzed: int
    frames_with_faces: int
    faces_seen: int
    tracks: tuple[TrackSummary, ...]
    model: ModelInfo
    video_score_raw: float | None = None

    @property
    def judgement(self) -> FaceState:
        """The most severe state any face reached (gathering evidence when no face was judged)."""
        return max((t.judgement for t in self.tracks), key=lambda s: s.rank, default=FaceState.GATHERING)

    def as_dict(self) -> dict[str, object]:
        return {
            "stream": self.stream_id,
            "judgement": self.judgement.value,
            "alert_bound": round(self.model.rule.bound, 3),
            "verdict": self.verdict.value,
            "video_score": _round(self.video_score),
            "video_score_raw": _round(self.video_score_raw),
            "threshold": round(self.threshold, 4),
            "frames_analyzed": self.frames_analyzed,
            "frames_with_faces": self.frames_with_faces,
            "faces_seen": self.faces_seen,
            "tracks": [t.as_dict() for t in self.tracks],
            "model": self.model.name,
            "model_trained": self.model.trained,
            "calibration": self.model.calibration.method,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass
class _TrackAcc:
    first_t: float
    last_t: float
    seen: int = 0
    probs: list[float] = field(default_factory=list)
    raws: list[float] = field(default_factory=list)
    max_rolling: float | None = None
    max_evidence: float = 0.0
    judgement: FaceState = FaceState.GATHERING


class SummaryBuilder:
    """Accumulates FrameResults of one stream."""

    def __init__(self, stream_id: str, model: ModelInfo, scoring: ScoringConfig) -> None:
        self._stream_id = stream_id
        self._model = model
        self._scoring = scoring
        self._frames = 0
        self._frames_with_faces = 0
        self._frame_max: list[float] = []
        self._frame_max_raw: list[float] = []
        self._tracks: dict[int, _TrackAcc] = {}

    def add(self, result: FrameResult) -> None:
        self._frames += 1
        if result.faces:
            self._frames_with_faces += 1
        probs = [f.prob for f in result.faces if f.state is ScoreState.ANALYZING and f.prob is not None]
        raws = [f.raw for f in result.faces if f.state is ScoreState.ANALYZING and f.raw is not None]
        if probs:
            self._frame_max.append(max(probs))
        if raws:
            self._frame_max_raw.append(max(raws))
        for face in result.faces:
            acc = self._tracks.setdefault(face.track_id, _TrackAcc(face.t, face.t))
            acc.last_t, acc.seen = face.t, acc.seen + 1
            if face.prob is not None:
                acc.probs.append(face.prob)
            if face.raw is not None:
                acc.raws.append(face.raw)
            if face.rolling is not None:
                acc.max_rolling = max(acc.max_rolling or 0.0, face.rolling)
            acc.max_evidence = max(acc.max_evidence, face.evidence)
            if face.judgement.rank > acc.judgement.rank:
                acc.judgement = face.judgement

    def build(self) -> VideoSummary:
        threshold = self._model.threshold
        score = sum(self._frame_max) / len(self._frame_max) if self._frame_max else None
        tracks = tuple(self._track(track_id, acc, threshold) for track_id, acc in sorted(self._tracks.items()))
        return VideoSummary(
            stream_id=self._stream_id,
            verdict=verdict(score, len(self._frame_max), threshold, self._scoring, self._model.trained),
            video_score=score,
            threshold=threshold,
            frames_analyzed=self._frames,
            frames_with_faces=self._frames_with_faces,
            faces_seen=len(self._tracks),
            tracks=tracks,
            model=self._model,
            video_score_raw=_mean(self._frame_max_raw),
        )

    def _track(self, track_id: int, acc: _TrackAcc, threshold: float) -> TrackSummary:
        mean = sum(acc.probs) / len(acc.probs) if acc.probs else None
        return TrackSummary(
            track_id=track_id,
            first_t=acc.first_t,
            last_t=acc.last_t,
            frames_seen=acc.seen,
            frames_scored=len(acc.probs),
            mean_prob=mean,
            max_rolling=acc.max_rolling,
            verdict=verdict(mean, len(acc.probs), threshold, self._scoring, self._model.trained),
            judgement=acc.judgement,
            max_evidence=acc.max_evidence,
            mean_raw=_mean(acc.raws),
        )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
