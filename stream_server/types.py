"""Values that cross the server's stage boundaries: stream kinds and states (alerts: detector.events)."""

from __future__ import annotations

from enum import StrEnum

from detector.events import Alert as Alert
from detector.events import AlertPhase as AlertPhase


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
