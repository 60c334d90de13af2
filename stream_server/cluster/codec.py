"""Result entries on the Redis stream, and the typed values the gateway's store needs back from them.

An entry is one batch the worker's hub emitted: field `w` is the worker id, field `m` a JSON list of
/ws messages in the existing versioned schema (`stream_server/messages.py`), so nothing on the wire is
new. The gateway turns score and event messages back into `FaceScore`/`Alert` values for the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from detector.types import Box, FaceScore, FaceState, Quality, RunFrame, ScoreState
from stream_server.messages import PROTOCOL_VERSION, Message
from stream_server.types import Alert, AlertPhase


class BadEntry(ValueError):
    """An entry that is not a batch of messages this version understands (skipped and counted)."""


@dataclass(frozen=True)
class Entry:
    """One decoded stream entry."""

    id: str
    worker: str
    messages: tuple[Message, ...]


def with_owner(message: Message, owner: str) -> Message:
    """Status messages of a cluster say which node runs the stream (the dashboard shows it)."""
    if message.get("type") != "status":
        return message
    return {**message, "stream": {**message["stream"], "owner": owner}}


def encode(worker: str, messages: list[Message]) -> dict[str, str]:
    return {"w": worker, "m": json.dumps(messages, separators=(",", ":"))}


def decode(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry:
    """Parse one XREADGROUP entry; BadEntry when it is malformed or of another protocol version."""
    ident = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    try:
        worker = fields[b"w"].decode()
        messages = json.loads(fields[b"m"])
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEntry(f"entry {ident}: {exc}") from exc
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadEntry(f"entry {ident}: not a list of messages")
    if any(m.get("v") != PROTOCOL_VERSION for m in messages):
        raise BadEntry(f"entry {ident}: protocol version is not {PROTOCOL_VERSION}")
    return Entry(ident, worker, tuple(messages))


def face_score(message: Message) -> FaceScore:
    """A `score` message back as the FaceScore it was made from (without the crop, which stays behind)."""
    quality = message["quality"]
    return FaceScore(
        stream_id=message["stream"],
        track_id=int(message["track"]),
        t=float(message["t"]),
        prob=message["prob"],
        rolling=message["rolling"],
        state=ScoreState(message["state"]),
        box=Box(*(float(v) for v in message["box"])),
        quality=Quality(
            quality["size_px"], quality["sharpness"], quality["yaw_deg"], quality["ok"], quality.get("reason")
        ),
        raw=message.get("raw"),
        evidence=float(message.get("evidence", 0.0)),
        judgement=FaceState(message.get("judgement", FaceState.GATHERING.value)),
    )


def alert(message: Message) -> Alert:
    """An `event` message back as its Alert. A start's own wall time is when it started."""
    body: dict[str, Any] = message["event"]
    phase = AlertPhase(body["phase"])
    return Alert(
        id=body["id"],
        phase=phase,
        stream_id=body["stream"],
        track_id=int(body["track"]),
        t=float(body["t"]),
        wall=float(body["wall"]),
        score=body["score"],
        peak=float(body["peak"]),
        started_t=float(body["started_t"]),
        started_wall=float(body["wall"]) if phase is AlertPhase.START else 0.0,
        reason=body.get("reason"),
        evidence=float(body.get("evidence", 0.0)),
        peak_evidence=float(body.get("peak_evidence", 0.0)),
        bound=float(body.get("bound", 0.0)),
        frames=tuple(RunFrame(float(t), float(p), float(i)) for t, p, i in body.get("frames", ())),
    )
