"""Values that cross the server's stage boundaries: stream kinds and states, alerts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamKind(StrEnum):
    WEBRTC = "webrtc"
    RTSP = "rtsp"
    UPLOAD = "upload"
    REPLAY = "replay"  # a file played back at real time as if live (bench, demos)


class StreamStatus(StrEnum):
    """Where a source stands; `stalled` means connected but no frame for `rtsp.stall_s`."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


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
