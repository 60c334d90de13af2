"""The versioned JSON messages pushed over /ws; docs/api.md holds their schema.

Every message is an object with `v` (protocol version) and `type`. Building them in one module keeps
the wire format in one place: the WebSocket, the API and the docs all agree with this file.
"""

from __future__ import annotations

from typing import Any

from detector.pipeline import ModelInfo
from detector.types import FaceScore
from stream_server.types import Alert

PROTOCOL_VERSION = 2  # 2: calibrated `prob`, `raw`, `evidence`, `judgement`; alerts by evidence

Message = dict[str, Any]


def _message(kind: str, **body: Any) -> Message:
    return {"v": PROTOCOL_VERSION, "type": kind, **body}


def model_dict(info: ModelInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "trained": info.trained,
        "threshold": info.threshold,
        "input_size": info.input_size,
        "uncertain_margin": info.uncertain_margin,
        "calibration": info.calibration.method,
        "bound": info.rule.bound,
        "frame_clip": info.rule.clip,
        "drift": info.rule.drift,
        "release": info.rule.release,
        "min_frames": info.rule.min_frames,
    }


def hello(info: ModelInfo, streams: list[dict[str, Any]], alerts_enabled: bool) -> Message:
    """First message on every connection: the model and every stream as `GET /api/streams` shows it."""
    return _message("hello", model=model_dict(info), model_trained=info.trained, alerts=alerts_enabled, streams=streams)


def status(stream: dict[str, Any]) -> Message:
    """A stream's status changed (or it was added or removed)."""
    return _message("status", stream=stream)


def score(face: FaceScore, wall: float) -> Message:
    return _message("score", **face.as_dict(), wall=round(wall, 3))


def track_end(stream_id: str, track_id: int, t: float) -> Message:
    return _message("track_end", stream=stream_id, track=track_id, t=round(t, 3))


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "phase": alert.phase.value,
        "stream": alert.stream_id,
        "track": alert.track_id,
        "t": round(alert.t, 3),
        "wall": round(alert.wall, 3),
        "score": None if alert.score is None else round(alert.score, 4),
        "peak": round(alert.peak, 4),
        "started_t": round(alert.started_t, 3),
        "reason": alert.reason,
        "evidence": round(alert.evidence, 3),
        "peak_evidence": round(alert.peak_evidence, 3),
        "bound": round(alert.bound, 3),
        "frames": [f.as_list() for f in alert.frames],
    }


def event(alert: Alert) -> Message:
    return _message("event", event=alert_dict(alert))
