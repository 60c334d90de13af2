"""Worker identity against a real Redis: a taken id is refused, a clean exit is not shown as lost."""

from __future__ import annotations

import pytest

from detector.config import ClusterConfig
from stream_server.cluster.connection import client
from stream_server.cluster.keys import Keys
from stream_server.cluster.registry import DuplicateWorker, Identity, WorkerInfo, read_workers
from tests.stream_server.cluster.conftest import RedisServer

pytestmark = pytest.mark.integration

KEYS = Keys("t")


def _info(worker: str) -> WorkerInfo:
    return WorkerInfo(worker, "host", 1, ("c1",), 4, "0.1.0", {"name": "m"}, 1.0, 2.0)


class _Clock:
    """Each reading is a second later: the wait for a dead holder's key runs out without sleeping it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.asyncio
async def test_a_second_process_with_a_live_id_is_refused(redis_server: RedisServer) -> None:
    redis = client(ClusterConfig(redis_url=redis_server.url))
    first, twin = Identity(redis, KEYS, "w1", 30), Identity(redis, KEYS, "w1", 30)
    await first.acquire(_Clock(), 5)

    with pytest.raises(DuplicateWorker, match="another worker with id 'w1' is running"):
        await twin.acquire(_Clock(), 2)
    still_ours = await first.heartbeat(_info("w1"))
    await redis.aclose()

    assert still_ours


@pytest.mark.asyncio
async def test_clean_leave_removes_the_worker_and_expiry_shows_it_lost(redis_server: RedisServer) -> None:
    redis = client(ClusterConfig(redis_url=redis_server.url))
    leaving, dying = Identity(redis, KEYS, "w1", 30), Identity(redis, KEYS, "w2", 30)
    for identity in (leaving, dying):
        await identity.acquire(_Clock(), 5)
        await identity.heartbeat(_info(identity.worker))

    await leaving.leave()
    await redis.delete(KEYS.node("w2"))  # what its expiry does when it stops heartbeating
    views = await read_workers(redis, KEYS)
    await redis.aclose()

    assert [(v.info.id, v.lost) for v in views] == [("w2", True)]
