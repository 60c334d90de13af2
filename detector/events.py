"""Alerts: a face track entering and leaving the `alert` state of the sequential rule (detector/evidence.py).

The analyzer runs the rule per track and marks each face with its state; this tracker turns those states
into alert starts and ends with ids and wall times. An alert starts when a track's evidence reaches the
bound and ends when the evidence falls below the release level (`reason: evidence`), when the track is
lost or when the stream stops. An untrained model raises none unless the config says otherwise: its
scores mean nothing.

The rule lives in the detector (not the server) because `analyze --report` and the benchmark run it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from detector.config import EventsConfig
from detector.types import FaceScore, FaceState, FrameResult, RunFrame


class AlertPhase(StrEnum):
    START = "start"
    END = "end"


@dataclass(frozen=True)
class Alert:
    """The start or end of an alert: one track's evidence at or above the bound (with hysteresis)."""

    id: str
    phase: AlertPhase
    stream_id: str
    track_id: int
    t: float  # stream seconds of this start or end
    wall: float  # unix seconds of this start or end
    score: float | None  # rolling calibrated probability at this moment
    peak: float  # highest rolling calibrated probability so far in the alert
    started_t: float
    started_wall: float
    reason: str | None = None  # why it ended: evidence | track_lost | stream_stopped | shutdown
    evidence: float = 0.0  # the track's evidence at this moment
    peak_evidence: float = 0.0  # highest evidence so far in the alert
    bound: float = 0.0  # the bound it crossed
    frames: tuple[RunFrame, ...] = ()  # on a start: the scored frames that built the evidence


@dataclass
class _TrackState:
    last_t: float = 0.0
    last_evidence: float = 0.0
    open: Alert | None = None


def new_alert_id() -> str:
    return "ev-" + uuid.uuid4().hex[:12]


class AlertTracker:
    """Per-track alert starts and ends from the faces' rule states."""

    def __init__(
        self, config: EventsConfig, bound: float, model_trained: bool, new_id: Callable[[], str] = new_alert_id
    ) -> None:
        self._bound = bound
        self._enabled = model_trained or not config.require_trained_model
        self._new_id = new_id
        self._tracks: dict[tuple[str, int], _TrackState] = {}

    @property
    def enabled(self) -> bool:
        return self._enabled

    def update(self, result: FrameResult, wall: float) -> list[Alert]:
        out = self.end_tracks(result.stream_id, result.ended_tracks, result.t, wall, "track_lost")
        if not self._enabled:
            return out
        for face in result.faces:
            state = self._tracks.setdefault((face.stream_id, face.track_id), _TrackState())
            state.last_t, state.last_evidence = face.t, face.evidence
            alert = self._step(state, face, wall)
            if alert is not None:
                out.append(alert)
        return out

    def _step(self, state: _TrackState, face: FaceScore, wall: float) -> Alert | None:
        alerting = face.judgement is FaceState.ALERT
        if state.open is None:
            if not alerting:
                return None
            score = face.rolling if face.rolling is not None else 0.0
            state.open = Alert(
                self._new_id(),
                AlertPhase.START,
                face.stream_id,
                face.track_id,
                face.t,
                wall,
                face.rolling,
                score,
                face.t,
                wall,
                evidence=face.evidence,
                peak_evidence=face.evidence,
                bound=self._bound,
                frames=face.run or (),
            )
            return state.open
        if alerting:
            state.open = replace(
                state.open,
                peak=max(state.open.peak, face.rolling or 0.0),
                peak_evidence=max(state.open.peak_evidence, face.evidence),
            )
            return None
        return self._close(state, face.t, wall, face.rolling, "evidence")

    def end_tracks(self, stream_id: str, tracks: Iterable[int], t: float, wall: float, reason: str) -> list[Alert]:
        out = []
        for track_id in tracks:
            state = self._tracks.pop((stream_id, track_id), None)
            if state is not None and state.open is not None:
                out.append(self._close(state, t, wall, None, reason))
        return out

    def end_stream(self, stream_id: str, wall: float, reason: str) -> list[Alert]:
        """Close every open alert of a stream at the last time each track was seen."""
        keys = [key for key in self._tracks if key[0] == stream_id]
        out = []
        for key in keys:
            state = self._tracks.pop(key)
            if state.open is not None:
                out.append(self._close(state, state.last_t, wall, None, reason))
        return out

    @staticmethod
    def _close(state: _TrackState, t: float, wall: float, score: float | None, reason: str) -> Alert:
        assert state.open is not None
        alert = replace(
            state.open,
            phase=AlertPhase.END,
            t=t,
            wall=wall,
            score=score,
            reason=reason,
            evidence=state.last_evidence,
            frames=(),
        )
        state.open = None
        return alert
