"""Alerts: a track's rolling score crossing the threshold, with hysteresis so noise does not flap.

An alert starts when a track with at least `events.min_frames` scored frames reaches the threshold and
ends when its rolling score falls `events.hysteresis` below it, when the track is lost or when the
stream stops. An untrained model raises none unless the config says otherwise: its scores mean nothing.

The rule lives in the detector (not the server) because `analyze --report` and the benchmark run it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from detector.config import EventsConfig
from detector.types import FrameResult


class AlertPhase(StrEnum):
    START = "start"
    END = "end"


@dataclass(frozen=True)
class Alert:
    """The start or end of an alert: one track's rolling score above the threshold (with hysteresis)."""

    id: str
    phase: AlertPhase
    stream_id: str
    track_id: int
    t: float  # stream seconds of this start or end
    wall: float  # unix seconds of this start or end
    score: float | None  # rolling score at this moment
    peak: float  # highest rolling score so far in the alert
    started_t: float
    started_wall: float
    reason: str | None = None  # why it ended: score | track_lost | stream_stopped | shutdown


@dataclass
class _TrackState:
    scored: int = 0
    last_t: float = 0.0
    open: Alert | None = None


def new_alert_id() -> str:
    return "ev-" + uuid.uuid4().hex[:12]


class AlertTracker:
    """Per-track hysteresis over rolling scores; returns the alerts each result starts or ends."""

    def __init__(
        self, config: EventsConfig, threshold: float, model_trained: bool, new_id: Callable[[], str] = new_alert_id
    ) -> None:
        self._config = config
        self._threshold = threshold
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
            state.last_t = face.t
            if face.prob is not None:
                state.scored += 1
            alert = self._step(state, face.stream_id, face.track_id, face.rolling, face.t, wall)
            if alert is not None:
                out.append(alert)
        return out

    def _step(
        self, state: _TrackState, stream_id: str, track_id: int, score: float | None, t: float, wall: float
    ) -> Alert | None:
        if score is None:
            return None
        if state.open is None:
            if state.scored < self._config.min_frames or score < self._threshold:
                return None
            state.open = Alert(self._new_id(), AlertPhase.START, stream_id, track_id, t, wall, score, score, t, wall)
            return state.open
        state.open = replace(state.open, peak=max(state.open.peak, score))
        if score >= self._threshold - self._config.hysteresis:
            return None
        return self._close(state, t, wall, score, "score")

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
        alert = replace(state.open, phase=AlertPhase.END, t=t, wall=wall, score=score, reason=reason)
        state.open = None
        return alert
