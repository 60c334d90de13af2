"""Webhooks: each target has a bounded queue and one delivery thread that signs, POSTs and retries.

Events wait in the target's queue; when a target is down long enough for it to fill, the oldest event
is dropped and counted (the newest say most about now). One event is in flight at a time, so events
arrive in order. A 2xx answer is a success; 5xx, 408, 429, timeouts and refused connections are
retried after `backoff_initial_s`, doubling up to `backoff_max_s`, until `max_attempts`; any other
answer (4xx, 3xx: a redirect is not followed) fails at once, since sending the same body again would
get the same answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from detector.config import WebhookConfig
from stream_server.ingest.address import IpAddress
from stream_server.notify.address import TargetPolicy, TargetRefused, display, host_port
from stream_server.notify.base import Batch, Notification
from stream_server.notify.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign
from stream_server.notify.transport import Reply, post

logger = logging.getLogger(__name__)

_PORTS = {"http": 80, "https": 443}
_RETRY_STATUSES = {408, 429}

Post = Callable[[str, IpAddress, bytes, dict[str, str], float], Reply]
Wait = Callable[[float], bool]  # waits up to n seconds; True when the publisher is stopping


class Outcome(StrEnum):
    OK = "ok"
    RETRY = "retry"
    FAIL = "fail"


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.OK
    if status >= 500 or status in _RETRY_STATUSES:
        return Outcome.RETRY
    return Outcome.FAIL


def backoff(config: WebhookConfig, attempt: int) -> float:
    """Wait after failed attempt number `attempt` (1-based): capped exponential."""
    return float(min(config.backoff_initial_s * 2 ** (attempt - 1), config.backoff_max_s))


class _Counters:
    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0  # events given up on (after retries, or at once on a 4xx)
        self.dropped = 0  # events pushed out of a full queue
        self.attempts_failed = 0
        self.retries = 0
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None


class WebhookPublisher:
    """Delivers the chosen events to one URL from its own thread; `deliver` only enqueues."""

    kind = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        policy: TargetPolicy,
        send: Post = post,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.name = config.name or display(config.url)
        self._policy = policy
        self._send = send
        self._wall = wall
        self._events = set(config.events)
        self._queue: deque[Notification] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._counts = _Counters()
        self._thread = threading.Thread(target=self._run, name=f"webhook {self.name}", daemon=True)

    def check(self) -> None:
        """At start: a refused address is a config error; a name that does not resolve now is only logged."""
        host, port = host_port(self.config.url, _PORTS)
        try:
            self._policy.check(host, port)
        except TargetRefused:
            raise
        except OSError as exc:
            logger.warning("webhook %s: %s (deliveries will be retried)", self.name, exc)

    def start(self) -> None:
        self._thread.start()

    def deliver(self, batch: Batch) -> None:
        chosen = [note for note in batch.notifications if note.event in self._events]
        if not chosen:
            return
        with self._cond:
            for note in chosen:
                if len(self._queue) >= self.config.queue_size:
                    self._queue.popleft()
                    self._counts.dropped += 1
                self._queue.append(note)
            self._cond.notify()

    def stop(self, timeout: float) -> None:
        """Queued events get one attempt each (no retry waits) within `timeout`; the rest are dropped."""
        self._stopping.set()
        with self._cond:
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def state(self) -> dict[str, Any]:
        c = self._counts
        with self._cond:
            queued = len(self._queue)
        return {
            "delivered": c.delivered,
            "failed": c.failed,
            "dropped": c.dropped,
            "retries": c.retries,
            "attempts_failed": c.attempts_failed,
            "queued": queued,
            "last_success": c.last_success,
            "last_error": c.last_error,
            "last_error_at": c.last_error_at,
        }

    # On the delivery thread.

    def _run(self) -> None:
        while (note := self._next()) is not None:
            self._deliver_one(note)

    def _next(self) -> Notification | None:
        with self._cond:
            while not self._queue and not self._stopping.is_set():
                self._cond.wait()
            return self._queue.popleft() if self._queue else None

    def _deliver_one(self, note: Notification) -> None:
        body = json.dumps(note.body(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "deepfake-monitor",
            SIGNATURE_HEADER: sign(self.config.secret, body),
            DELIVERY_HEADER: note.id,
            "Idempotency-Key": note.id,
            EVENT_HEADER: note.event.value,
        }
        for attempt in range(1, self.config.max_attempts + 1):
            outcome = self._attempt(body, headers)
            if outcome is Outcome.OK:
                self._counts.delivered += 1
                self._counts.last_success = self._wall()
                return
            last = outcome is Outcome.FAIL or attempt == self.config.max_attempts
            if last or self._stopping.wait(backoff(self.config, attempt)):
                break
            self._counts.retries += 1
        self._counts.failed += 1
        logger.warning(
            "webhook %s: gave up on %s %s: %s", self.name, note.event.value, note.id, self._counts.last_error
        )

    def _attempt(self, body: bytes, headers: dict[str, str]) -> Outcome:
        host, port = host_port(self.config.url, _PORTS)
        try:
            ip = self._policy.check(host, port)
            reply = self._send(self.config.url, ip, body, headers, self.config.timeout_s)
        except TargetRefused as exc:  # DNS changed to a refused address since start: never worth a retry
            return self._failed(str(exc), Outcome.FAIL)
        except OSError as exc:  # timeouts, refused connections, resets, DNS failures
            return self._failed(_describe(exc), Outcome.RETRY)
        outcome = classify(reply.status)
        if outcome is not Outcome.OK:
            self._failed(f"HTTP {reply.status}", outcome)
        return outcome

    def _failed(self, error: str, outcome: Outcome) -> Outcome:
        self._counts.attempts_failed += 1
        self._counts.last_error = error
        self._counts.last_error_at = self._wall()
        return outcome


def _describe(exc: OSError) -> str:
    """One line without the URL (its path may be secret): the kind of failure and the OS's words."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    detail = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(f"{type(exc).__name__}: {detail}".split())
