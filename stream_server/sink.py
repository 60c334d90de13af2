"""Where the hub sends what it produces: one interface, a local implementation here, Redis in `cluster/`.

The hub hands every score and alert to `add_scores`/`add_alert` (from the inference thread) before it
publishes the messages that describe them (on the event loop). In a single process the sink is the
SQLite store plus the /ws broadcaster; on a cluster worker it is the Redis outbox, and the gateway
stores what arrives before it broadcasts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from detector.types import FaceScore
from stream_server.messages import Message
from stream_server.store import ScoreStore
from stream_server.types import Alert


class ResultSink(Protocol):
    def add_scores(self, faces: Sequence[FaceScore], wall: float) -> None:
        """Record scores durably (or hand them to whatever will); called on the inference thread."""

    def add_alert(self, alert: Alert) -> None:
        """Record an alert's start or end; called on the inference thread."""

    def publish(self, out: list[Message]) -> None:
        """Pass messages on to their readers; called on the event loop."""


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
