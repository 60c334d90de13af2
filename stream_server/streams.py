"""The table of streams: status, counters, latest scores and pictures, as the API and /ws show them.

Sources report from their threads, the inference worker records results from its thread and the API
reads from the event loop, so every entry is guarded by one lock and read as a copied summary.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detector.types import FaceScore, Frame, FrameResult
from stream_server.types import Alert, AlertPhase, StreamKind, StreamStatus


class FpsMeter:
    """Analyzed frames per second over a sliding window of monotonic times."""

    def __init__(self, window_s: float) -> None:
        self._window = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()


@dataclass
class StreamEntry:
    """Everything known about one stream; mutated only under `StreamTable`'s lock."""

    id: str
    name: str
    kind: StreamKind
    source: str  # display form: URL with credentials masked, file name, or peer
    created: float  # unix seconds
    fps: FpsMeter
    status: StreamStatus = StreamStatus.CONNECTING
    error: str | None = None
    progress: float | None = None
    analyzed: int = 0
    faces: dict[int, FaceScore] = field(default_factory=dict)
    alerts: set[int] = field(default_factory=set)
    last_frame: Frame | None = None
    last_t: float | None = None
    dropped: Callable[[], int] = lambda: 0
    queued: Callable[[], int] = lambda: 0


class StreamTable:
    """Thread-safe registry of `StreamEntry`s."""

    def __init__(self, clock: Callable[[], float], fps_window_s: float) -> None:
        self._clock = clock
        self._window = fps_window_s
        self._lock = threading.Lock()
        self._entries: dict[str, StreamEntry] = {}

    def add(self, stream_id: str, name: str, kind: StreamKind, source: str, created: float) -> StreamEntry:
        entry = StreamEntry(stream_id, name, kind, source, created, FpsMeter(self._window))
        with self._lock:
            self._entries[stream_id] = entry
        return entry

    def remove(self, stream_id: str) -> StreamEntry | None:
        with self._lock:
            return self._entries.pop(stream_id, None)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._entries

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def active_count(self, kind: StreamKind | None = None) -> int:
        """Streams not stopped, of one kind or all."""
        with self._lock:
            return sum(e.status is not StreamStatus.STOPPED and kind in (None, e.kind) for e in self._entries.values())

    def oldest_stopped(self) -> str | None:
        with self._lock:
            stopped = [e for e in self._entries.values() if e.status is StreamStatus.STOPPED]
        return min(stopped, key=lambda e: e.created).id if stopped else None

    def set_status(self, stream_id: str, status: StreamStatus, error: str | None) -> bool:
        """Record a status; True when it changed (so it is worth announcing)."""
        with self._lock:
            entry = self._entries.get(stream_id)
            if entry is None or entry.status is StreamStatus.STOPPED:
                return False
            changed = (entry.status, entry.error) != (status, error)
            entry.status, entry.error = status, error
            if status is StreamStatus.STOPPED:
                entry.faces.clear()
                entry.alerts.clear()
            return changed

    def status_of(self, stream_id: str) -> StreamStatus | None:
        with self._lock:
            entry = self._entries.get(stream_id)
            return entry.status if entry else None

    def set_progress(self, stream_id: str, fraction: float) -> None:
        with self._lock:
            if (entry := self._entries.get(stream_id)) is not None:
                entry.progress = min(max(fraction, 0.0), 1.0)

    def record(self, frame: Frame, result: FrameResult) -> None:
        """Keep the latest frame and the latest score of each live track."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(result.stream_id)
            if entry is None:
                return
            entry.analyzed += 1
            entry.fps.tick(now)
            entry.last_frame, entry.last_t = frame, result.t
            for track in result.ended_tracks:
                entry.faces.pop(track, None)
            for face in result.faces:
                entry.faces[face.track_id] = face

    def record_alert(self, alert: Alert) -> None:
        with self._lock:
            if (entry := self._entries.get(alert.stream_id)) is None:
                return
            if alert.phase is AlertPhase.START:
                entry.alerts.add(alert.track_id)
            else:
                entry.alerts.discard(alert.track_id)

    def snapshot(self, stream_id: str) -> np.ndarray | None:
        with self._lock:
            entry = self._entries.get(stream_id)
            return entry.last_frame.image if entry and entry.last_frame else None

    def face_crop(self, stream_id: str, track_id: int) -> np.ndarray | None:
        with self._lock:
            entry = self._entries.get(stream_id)
            face = entry.faces.get(track_id) if entry else None
            return face.crop if face is not None else None

    def summary(self, stream_id: str, faces: bool = True) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(stream_id)
            return self._describe(entry, faces) if entry else None

    def summaries(self, faces: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            return [self._describe(e, faces) for e in self._entries.values()]

    def _describe(self, entry: StreamEntry, faces: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": entry.id,
            "name": entry.name,
            "kind": entry.kind.value,
            "source": entry.source,
            "status": entry.status.value,
            "error": entry.error,
            "created": round(entry.created, 3),
            "fps": round(entry.fps.rate(self._clock()), 2),
            "analyzed": entry.analyzed,
            "dropped": entry.dropped(),
            "queued": entry.queued(),
            "progress": entry.progress,
            "t": None if entry.last_t is None else round(entry.last_t, 3),
        }
        if faces:
            out["faces"] = [
                {**f.as_dict(), "alert": f.track_id in entry.alerts} for f in sorted(entry.faces.values(), key=_track)
            ]
        return out


def _track(face: FaceScore) -> int:
    return face.track_id
