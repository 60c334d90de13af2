"""/ws fan-out: a slow client never delays a fast one, keeps only the latest score per face, and is
disconnected once it stays behind. Time is an injected clock; waiting is on events, never sleeps."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from detector.config import WebSocketConfig
from stream_server.ws import Broadcaster, ClientChannel


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def score(track: int, t: float) -> dict[str, Any]:
    return {"v": 1, "type": "score", "stream": "s", "track": track, "t": t, "rolling": 0.5}


def event(n: int) -> dict[str, Any]:
    return {"v": 1, "type": "event", "event": {"id": f"ev-{n}"}}


class FastClient:
    def __init__(self, expect: int) -> None:
        self.received: list[dict[str, Any]] = []
        self.expect = expect
        self.all_in = asyncio.Event()

    async def send(self, text: str) -> None:
        self.received.append(json.loads(text))
        if len(self.received) >= self.expect:
            self.all_in.set()


class StuckClient:
    """A client whose socket never drains: its first send never completes."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()
        self.never = asyncio.Event()

    async def send(self, text: str) -> None:
        self.sending.set()
        await self.never.wait()


@pytest.mark.asyncio
async def test_slow_client_does_not_delay_fast_one() -> None:
    clock = Clock()
    config = WebSocketConfig(client_buffer=16, max_lag_s=10)
    published = [score(1, i / 10) for i in range(100)] + [event(1)] + [score(2, 0.0)]
    fast, stuck = FastClient(expect=len(published)), StuckClient()
    fast_channel, slow_channel = ClientChannel(fast.send, config, clock), ClientChannel(stuck.send, config, clock)
    broadcaster = Broadcaster()
    broadcaster.add(fast_channel)
    broadcaster.add(slow_channel)
    tasks = [asyncio.create_task(fast_channel.run()), asyncio.create_task(slow_channel.run())]

    broadcaster.publish(published[:1])
    await stuck.sending.wait()  # the slow client is now blocked inside its first send
    for message in published[1:]:
        broadcaster.publish([message])
        await asyncio.sleep(0)  # let the fast client's sender run, as it would between real publishes
    await fast.all_in.wait()

    assert fast.received == published  # everything, in order, although the other client is stuck
    # The stuck client's outbox kept one entry per face (the latest) plus the event, nothing more.
    assert slow_channel.pending == 3
    assert slow_channel.coalesced == 98
    assert not slow_channel.kicked.is_set() and len(broadcaster) == 2

    fast.expect += 2
    fast.all_in.clear()
    clock.now = 11  # more than max_lag_s with messages waiting and none sent
    broadcaster.publish([score(1, 99.0)])
    assert slow_channel.kicked.is_set() and len(broadcaster) == 1
    await asyncio.sleep(0)
    broadcaster.publish([score(1, 100.0)])  # the fast client carries on
    await fast.all_in.wait()
    assert [m["t"] for m in fast.received[-2:]] == [99.0, 100.0]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_client_with_full_outbox_is_disconnected() -> None:
    stuck = StuckClient()
    channel = ClientChannel(stuck.send, WebSocketConfig(client_buffer=8, max_lag_s=600), Clock())
    broadcaster = Broadcaster()
    broadcaster.add(channel)
    runner = asyncio.create_task(channel.run())
    broadcaster.publish([event(0)])
    await stuck.sending.wait()
    broadcaster.publish([event(n) for n in range(1, 9)])  # events are never coalesced: 8 fill the outbox
    assert not channel.kicked.is_set()
    broadcaster.publish([event(9)])
    assert channel.kicked.is_set() and len(broadcaster) == 0
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


@pytest.mark.asyncio
async def test_status_messages_keep_only_the_latest_per_stream() -> None:
    stuck = StuckClient()
    channel = ClientChannel(stuck.send, WebSocketConfig(), Clock())
    runner = asyncio.create_task(channel.run())
    channel.offer(event(0))
    await stuck.sending.wait()
    for status in ("connecting", "reconnecting", "live"):
        channel.offer({"v": 1, "type": "status", "stream": {"id": "cam", "status": status}})
    assert channel.pending == 1
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
