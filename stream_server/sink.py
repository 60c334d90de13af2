"""Where the hub sends what it produces: one interface, a local implementation here, Redis in `cluster/`.

The hub hands every score and alert to `add_scores`/`add_alert` (from the inference thread) before it
publishes the messages that describe them (on the event loop). In a single process the sink is the
SQLite store plus the /ws broadcaster; on a cluster worker it is the Redis outbox, and the gateway
stores what arrives before it broadcasts it.

The evidence report (`GET /api/streams/{id}/report`) also needs each stream's record (source, model)
and the face crops `EvidenceKeeper` picks: `add_stream`/`end_stream`/`add_crop`. The local sink keeps
them in the store; a worker's outbox keeps no crops (pictures do not travel on the result stream) and
leaves the record of its cameras to the gateway, which writes it from their status messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from detector.report.evidence import CropChoice
from detector.types import FaceScore
from stream_server.messages import Message
from stream_server.store import ScoreStore, StreamRecord
from stream_server.types import Alert


class ResultSink(Protocol):
    def add_scores(self, faces: Sequence[FaceScore], wall: float) -> None:
        """Record scores durably (or hand them to whatever will); called on the inference thread."""

    def add_alert(self, alert: Alert) -> None:
        """Record an alert's start or end; called on the inference thread."""

    def publish(self, out: list[Message]) -> None:
        """Pass messages on to their readers; called on the event loop."""

    def add_stream(self, record: StreamRecord) -> None:
        """Record a new stream for its report; called on the event loop, so it must never wait."""

    def end_stream(self, stream_id: str, wall: float) -> None:
        """Record when a stream ended; called on the event loop or the inference thread, never waits."""

    def add_crop(self, stream_id: str, choice: CropChoice) -> None:
        """Keep an evidence crop for the report; called on the inference thread."""


class LocalSink:
    """The single-process sink: rows to the SQLite store, messages to the /ws broadcaster."""

    def __init__(self, store: ScoreStore, publish: Callable[[list[Message]], None]) -> None:
        self._store = store
        self._publish = publish

    def add_scores(self, faces: Sequence[FaceScore], wall: float) -> None:
        self._store.add_scores(faces, wall)

    def add_alert(self, alert: Alert) -> None:
        self._store.add_alert(alert)

    def publish(self, out: list[Message]) -> None:
        self._publish(out)

    def add_stream(self, record: StreamRecord) -> None:
        self._store.add_stream(record)

    def end_stream(self, stream_id: str, wall: float) -> None:
        self._store.end_stream(stream_id, wall)

    def add_crop(self, stream_id: str, choice: CropChoice) -> None:
        self._store.add_crop(stream_id, choice)
