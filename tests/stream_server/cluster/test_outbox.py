"""The worker's outbox against a real Redis: sends in order, holds a bounded buffer through an outage."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import pytest

from detector.config import ClusterConfig
from stream_server.cluster.connection import client
from stream_server.cluster.keys import Keys
from stream_server.cluster.outbox import RedisOutbox
from stream_server.messages import status
from tests.stream_server.cluster.conftest import RedisServer

pytestmark = pytest.mark.integration


def _outbox(server: RedisServer, buffer: int) -> tuple[RedisOutbox, ClusterConfig]:
    config = ClusterConfig(redis_url=server.url, buffer_messages=buffer, reconnect_max_s=0.5, stream_maxlen=1000)
    return RedisOutbox(client(config), Keys("t"), "w1", config), config


def _sent(server: RedisServer) -> list[dict]:
    entries = server.client().xrange("t:results")
    return [m for _, fields in entries for m in json.loads(fields[b"m"])]


async def _until(predicate: Callable[[], bool], timeout_s: float = 20) -> None:
    """Wait for the outbox task (and Redis, another process) to get somewhere; nothing to subscribe to."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the state changes in another task and another process
            await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_messages_reach_the_stream_stamped_with_their_owner(redis_server: RedisServer) -> None:
    outbox, _ = _outbox(redis_server, 100)
    sender = asyncio.create_task(outbox.run())
    outbox.publish([status({"id": "c1", "status": "live"}), {"v": 1, "type": "track_end", "stream": "c1"}])
    await _until(lambda: outbox.sent == 2)
    sender.cancel()

    [first, second] = _sent(redis_server)

    assert first["stream"] == {"id": "c1", "status": "live", "owner": "w1"}
    assert second["type"] == "track_end" and outbox.buffered == 0


@pytest.mark.asyncio
async def test_outage_buffers_a_bounded_number_then_drops_and_counts(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    outbox, _ = _outbox(redis_server, 10)
    redis_server.stop()
    sender = asyncio.create_task(outbox.run())
    for i in range(25):
        outbox.publish([status({"id": f"c{i}", "status": "live"})])
    await _until(lambda: "Redis unreachable" in caplog.text)
    assert (outbox.buffered, outbox.dropped) == (10, 15)

    redis_server.start()
    await _until(lambda: outbox.buffered == 0)
    sender.cancel()

    # The newest ten were kept (latest state wins), in order.
    assert [m["stream"]["id"] for m in _sent(redis_server)] == [f"c{i}" for i in range(15, 25)]
    assert "retrying in" in caplog.text
