"""Finds events in the hub's /ws messages and hands them, with the messages, to every publisher.

Runs on the event loop (the hub's publish callback), where it only looks at dicts and enqueues:
the network work happens on each publisher's own thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from detector.config import NotifyConfig, NotifyEvent
from stream_server.messages import Message
from stream_server.notify.address import TargetPolicy
from stream_server.notify.base import Batch, Notification, Publisher, new_notification_id

logger = logging.getLogger(__name__)


@dataclass
class _Seen:
    error: str | None = None


class EventFinder:
    """Remembers each stream's last status so a repeated status message is not a new event."""

    def __init__(self, new_id: Callable[[], str] = new_notification_id, wall: Callable[[], float] = time.time) -> None:
        self._new_id = new_id
        self._wall = wall
        self._streams: dict[str, _Seen] = {}

    def find(self, message: Message) -> list[Notification]:
        if message["type"] == "event":
            alert = message["event"]
            kind = NotifyEvent.ALERT_STARTED if alert["phase"] == "start" else NotifyEvent.ALERT_ENDED
            return [self._note(kind, alert["stream"], message, alert["wall"])]
        if message["type"] == "status":
            return self._status(message)
        return []

    def _status(self, message: Message) -> list[Notification]:
        stream: dict[str, Any] = message["stream"]
        stream_id, error = stream["id"], stream.get("error")
        found: list[Notification] = []
        seen = self._streams.get(stream_id)
        if seen is None and stream["status"] != "stopped":
            seen = self._streams[stream_id] = _Seen()
            found.append(self._note(NotifyEvent.STREAM_STARTED, stream_id, message))
        if error and (seen is None or seen.error != error):
            found.append(self._note(NotifyEvent.STREAM_ERROR, stream_id, message))
        if seen is not None:
            seen.error = error
        if stream["status"] == "stopped" and self._streams.pop(stream_id, None) is not None:
            found.append(self._note(NotifyEvent.STREAM_STOPPED, stream_id, message))
        return found

    def _note(self, kind: NotifyEvent, stream_id: str, message: Message, wall: float | None = None) -> Notification:
        return Notification(self._new_id(), kind, stream_id, self._wall() if wall is None else wall, message)


class Notifier:
    """The hub's second audience beside /ws: every publisher configured under `notify`."""

    def __init__(self, publishers: Sequence[Publisher], finder: EventFinder | None = None) -> None:
        self.publishers = tuple(publishers)
        self._finder = finder or EventFinder()

    def publish(self, out: list[Message]) -> None:
        if not self.publishers:
            return
        notes = tuple(note for message in out for note in self._finder.find(message))
        batch = Batch(tuple(out), notes)
        for publisher in self.publishers:
            try:
                publisher.deliver(batch)
            except Exception:  # a broken publisher must not take /ws or the others with it
                logger.exception("%s %s: could not queue a delivery", publisher.kind, publisher.name)

    def start(self) -> None:
        for publisher in self.publishers:
            publisher.start()

    def stop(self, timeout: float) -> None:
        for publisher in self.publishers:
            publisher.stop(timeout)

    def states(self) -> list[dict[str, Any]]:
        return [{"kind": p.kind, "name": p.name, **p.state()} for p in self.publishers]


def build_notifier(config: NotifyConfig, policy: TargetPolicy | None = None) -> Notifier:
    """Every configured publisher, each checked: raises `TargetRefused` for an address the policy refuses."""
    from stream_server.notify.mqtt import MqttPublisher
    from stream_server.notify.webhook import WebhookPublisher

    policy = policy or TargetPolicy(config.allow_networks)
    webhooks = [WebhookPublisher(target, policy) for target in config.webhooks]
    mqtt = [MqttPublisher(config.mqtt, policy)] if config.mqtt is not None else []
    publishers: list[WebhookPublisher | MqttPublisher] = [*webhooks, *mqtt]
    for publisher in publishers:
        publisher.check()
    return Notifier(publishers)
