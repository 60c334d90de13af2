"""Leases against a real Redis: one holder per camera, renewals and releases only by the holder."""

from __future__ import annotations

import asyncio

import pytest

from detector.config import ClusterConfig
from stream_server.cluster.cameras import CameraSpec, add_camera, read_cameras
from stream_server.cluster.connection import client
from stream_server.cluster.keys import Keys
from stream_server.cluster.leases import Leases, read_holders
from tests.stream_server.cluster.conftest import RedisServer

pytestmark = pytest.mark.integration

KEYS = Keys("t")


@pytest.mark.asyncio
async def test_one_holder_per_camera_and_only_the_holder_renews_or_releases(redis_server: RedisServer) -> None:
    redis = client(ClusterConfig(redis_url=redis_server.url))
    a, b = Leases(redis, KEYS, "a", 5), Leases(redis, KEYS, "b", 5)

    won_a = await a.claim(["c1", "c2"])
    won_b = await b.claim(["c2", "c3"])
    taken_from_b = await b.renew(["c2", "c3"])
    await b.release(["c1", "c3"])  # c1 is a's: left alone
    holders = await read_holders(redis, KEYS, ["c1", "c2", "c3"])
    await redis.aclose()

    assert (won_a, won_b) == (["c1", "c2"], ["c3"])
    assert taken_from_b == ["c2"]
    assert holders == {"c1": "a", "c2": "a", "c3": None}


@pytest.mark.asyncio
async def test_a_lease_expires_unless_renewed_and_a_lapsed_one_is_taken_back(redis_server: RedisServer) -> None:
    redis = client(ClusterConfig(redis_url=redis_server.url))
    a = Leases(redis, KEYS, "a", 0.3)
    await a.claim(["c1", "c2"])
    await asyncio.sleep(0.5)  # a real expiry inside Redis: nothing to inject
    lapsed = await read_holders(redis, KEYS, ["c1", "c2"])

    lost = await a.renew(["c1"])  # still reading c1: renewing takes the free key back
    holders = await read_holders(redis, KEYS, ["c1", "c2"])
    await redis.aclose()

    assert lapsed == {"c1": None, "c2": None}
    assert lost == [] and holders == {"c1": "a", "c2": None}


@pytest.mark.asyncio
async def test_malformed_camera_records_are_skipped(redis_server: RedisServer) -> None:
    redis = client(ClusterConfig(redis_url=redis_server.url))
    await add_camera(redis, KEYS, "good", CameraSpec("door", "rtsp://10.0.0.5/door", 1.0))
    await redis.hset(KEYS.cameras, "bad", "{not json")

    cameras = await read_cameras(redis, KEYS)
    await redis.aclose()

    assert list(cameras) == ["good"]
