"""Result entries carry the existing /ws messages; the gateway gets the same typed values back."""

from __future__ import annotations

import pytest

from detector.types import Box, FaceScore, Quality, ScoreState
from stream_server import messages
from stream_server.cluster import codec
from stream_server.types import Alert, AlertPhase

FACE = FaceScore(
    "s-1", 3, 1.25, 0.8125, 0.75, ScoreState.ANALYZING, Box(1.0, 2.0, 30.5, 40.0), Quality(29.5, 80.1, 3.2, True)
)
START = Alert("ev-1", AlertPhase.START, "s-1", 3, 1.25, 1000.5, 0.75, 0.75, 1.25, 1000.5)


def _fields(worker: str, out: list[messages.Message]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in codec.encode(worker, out).items()}


def test_score_and_alert_survive_the_trip() -> None:
    out = [messages.score(FACE, 1000.5), messages.event(START)]

    entry = codec.decode(b"1-0", _fields("worker-a", out))

    assert (entry.id, entry.worker) == ("1-0", "worker-a")
    assert codec.face_score(entry.messages[0]) == FACE
    assert codec.alert(entry.messages[1]) == START


@pytest.mark.parametrize(
    "fields",
    [{}, {b"w": b"a", b"m": b"{not json"}, {b"w": b"a", b"m": b'{"v": 1}'}, {b"w": b"a", b"m": b'[{"v": 99}]'}],
)
def test_malformed_entries_are_refused(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(codec.BadEntry):
        codec.decode(b"1-0", fields)
