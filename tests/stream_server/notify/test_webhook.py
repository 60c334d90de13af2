"""Webhooks against a real HTTP receiver process: signed, retried on 5xx, not on 4xx, bounded when down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from detector.config import NotifyEvent, WebhookConfig
from stream_server.messages import PROTOCOL_VERSION
from stream_server.notify.address import TargetPolicy, TargetRefused
from stream_server.notify.base import Batch, Notification
from stream_server.notify.dispatch import EventFinder
from stream_server.notify.signing import DELIVERY_HEADER, SIGNATURE_HEADER, sign, verify
from stream_server.notify.webhook import WebhookPublisher, backoff
from tests.helpers.ws_schema import load_schema, validator
from tests.stream_server.notify.conftest import SECRET, Receiver

LOOPBACK = TargetPolicy(["127.0.0.0/8"])
Start = Callable[[str], Receiver]


def hook(url: str, **values: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"url": url, "secret": SECRET, "backoff_initial_s": 0.05, **values})


def alert_message(phase: str = "start", alert_id: str = "ev-1") -> dict[str, Any]:
    alert = {
        "id": alert_id, "phase": phase, "stream": "s-0123456789", "track": 1, "t": 2.0, "wall": 1700000000.0,
        "score": 0.9, "peak": 0.9, "started_t": 2.0, "reason": None if phase == "start" else "evidence",
        "evidence": 14.0, "peak_evidence": 14.0, "bound": 12.0, "frames": [],
    }  # fmt: skip
    return {"v": PROTOCOL_VERSION, "type": "event", "event": alert}


def batch_of(*messages: dict[str, Any]) -> Batch:
    finder = EventFinder()
    return Batch(messages, tuple(n for m in messages for n in finder.find(m)))


def running(config: WebhookConfig) -> WebhookPublisher:
    publisher = WebhookPublisher(config, LOOPBACK)
    publisher.check()
    publisher.start()
    return publisher


def wait_state(publisher: WebhookPublisher, key: str, value: int, within_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while publisher.state()[key] < value and time.monotonic() < deadline:
        time.sleep(0.02)
    return publisher.state()


def test_delivery_is_signed_and_carries_the_ws_message(receiver: Start) -> None:
    target = receiver("")
    publisher = running(hook(target.url("/hook?team=x")))
    publisher.deliver(batch_of(alert_message()))
    got = target.wait_for(lambda r: len(r) >= 1)
    publisher.stop(5)

    assert len(got) == 1
    request = got[0]
    assert request.path == "/hook?team=x"
    assert verify(SECRET, request.body, request.header(SIGNATURE_HEADER))
    assert not verify("another-secret-entirely", request.body, request.header(SIGNATURE_HEADER))
    body = request.json()
    validator(load_schema()).validate(body)  # the /ws schema, with the notification object beside it
    assert body["type"] == "event" and body["event"]["id"] == "ev-1"
    assert body["notification"]["event"] == "alert_started"
    assert body["notification"]["id"] == request.header(DELIVERY_HEADER) == request.header("Idempotency-Key")
    assert publisher.state()["delivered"] == 1


def test_500_twice_then_200_is_delivered_once_with_one_id(receiver: Start) -> None:
    target = receiver("500,500")
    publisher = running(hook(target.url()))
    publisher.deliver(batch_of(alert_message()))
    state = wait_state(publisher, "delivered", 1)
    publisher.stop(5)

    got = target.received()
    assert [r.answer for r in got] == ["500", "500", "200"]
    assert len({r.header(DELIVERY_HEADER) for r in got}) == 1  # a retry, not a new event
    assert len({r.body for r in got}) == 1  # the same signed bytes each time
    assert state["delivered"] == 1 and state["retries"] == 2 and state["failed"] == 0
    assert state["last_error"] == "HTTP 500" and state["last_success"] is not None


def test_4xx_is_not_retried(receiver: Start) -> None:
    target = receiver("404")
    publisher = running(hook(target.url()))
    publisher.deliver(batch_of(alert_message()))
    state = wait_state(publisher, "failed", 1)
    publisher.stop(5)

    assert [r.answer for r in target.received()] == ["404"]
    assert state["failed"] == 1 and state["retries"] == 0 and state["last_error"] == "HTTP 404"


def test_a_timeout_is_retried(receiver: Start) -> None:
    target = receiver("hang")
    publisher = running(hook(target.url(), timeout_s=0.3))
    publisher.deliver(batch_of(alert_message()))
    state = wait_state(publisher, "delivered", 1)
    publisher.stop(5)

    assert [r.answer for r in target.received()] == ["hang", "200"]
    assert state["retries"] == 1


def test_a_dead_target_costs_the_caller_nothing_and_drops_count(receiver: Start) -> None:
    target = receiver("")
    target.kill()  # nothing listens on its port any more
    publisher = running(hook(target.url(), queue_size=3, max_attempts=2, backoff_max_s=0.05))
    started = time.perf_counter()
    for i in range(50):
        publisher.deliver(batch_of(alert_message(alert_id=f"ev-{i}")))
    spent = time.perf_counter() - started
    state = wait_state(publisher, "failed", 1)
    publisher.stop(5)

    assert spent < 0.5  # enqueueing only: 50 events, no network on the caller's thread
    assert state["queued"] <= 3
    assert state["dropped"] >= 50 - 3 - 1  # all but the queue and the one in flight
    assert state["last_error"] is not None and "Connection" in state["last_error"]
    assert SECRET not in repr(state)


def test_events_not_chosen_are_not_sent(receiver: Start) -> None:
    target = receiver("")
    publisher = running(hook(target.url(), events=["alert_ended"]))
    publisher.deliver(batch_of(alert_message("start"), alert_message("end")))
    wait_state(publisher, "delivered", 1)
    publisher.stop(5)

    assert [r.json()["notification"]["event"] for r in target.received()] == ["alert_ended"]


def test_backoff_doubles_up_to_the_cap() -> None:
    config = hook("http://127.0.0.1:9/x", backoff_initial_s=1, backoff_max_s=5)
    assert [backoff(config, n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]:8080/x", "http://169.254.169.254/"]
)
def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused, match="notify.allow_networks"):
        WebhookPublisher(hook(url), TargetPolicy()).check()


def test_signature_is_hmac_sha256_of_the_body() -> None:
    import hashlib
    import hmac

    body = b'{"v":1}'
    assert sign("k" * 16, body) == "sha256=" + hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()
    assert not verify("k" * 16, body, None)


def test_event_finder_reports_each_stream_change_once() -> None:
    finder = EventFinder(new_id=iter(f"n{i}" for i in range(100)).__next__, wall=lambda: 5.0)

    def status(state: str, error: str | None = None) -> dict[str, Any]:
        return {"v": 1, "type": "status", "stream": {"id": "s-1", "name": "cam", "status": state, "error": error}}

    found = [
        [n.event for n in finder.find(m)]
        for m in (status("connecting"), status("live"), status("reconnecting", "timeout"),
                  status("reconnecting", "timeout"), status("stopped", "timeout"))
    ]  # fmt: skip
    assert found == [[NotifyEvent.STREAM_STARTED], [], [NotifyEvent.STREAM_ERROR], [], [NotifyEvent.STREAM_STOPPED]]
    note: Notification = finder.find(alert_message())[0]
    assert note.event is NotifyEvent.ALERT_STARTED and note.wall == 1700000000.0
