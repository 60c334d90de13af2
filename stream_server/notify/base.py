"""What every publisher receives and reports: the values that cross from the hub to the network."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from detector.config import NotifyEvent
from stream_server.messages import Message


@dataclass(frozen=True)
class Notification:
    """One event for the outside world, built once; every delivery attempt of it carries the same id."""

    id: str  # idempotency id: a receiver that sees it twice has seen the same event
    event: NotifyEvent
    stream_id: str
    wall: float  # unix seconds the event happened
    message: Message  # the /ws message it came from

    def body(self) -> Message:
        """The /ws message with a `notification` object added (the schema allows extra properties)."""
        return {**self.message, "notification": {"id": self.id, "event": self.event.value, "wall": round(self.wall, 3)}}


def new_notification_id() -> str:
    return "nt-" + uuid.uuid4().hex


@dataclass(frozen=True)
class Batch:
    """What the hub published in one go: the raw /ws messages and the events found in them."""

    messages: tuple[Message, ...]
    notifications: tuple[Notification, ...]


class Publisher(Protocol):
    """A destination. `deliver` is called on the event loop and must only enqueue."""

    kind: str  # "webhook" | "mqtt"
    name: str  # shown in /api/health and logs; never holds credentials, paths or queries

    def start(self) -> None: ...

    def deliver(self, batch: Batch) -> None: ...

    def stop(self, timeout: float) -> None: ...

    def state(self) -> dict[str, Any]: ...
