"""The worker process: take the id, load the model, run the hub and the cluster loop until SIGTERM/SIGINT.

The id is taken before the model loads (seconds), so a duplicate is refused at once; an unreachable
Redis at start is logged and retried with a doubling wait, never fatal: a worker started before its
Redis simply waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from detector.config import Config
from stream_server.cluster.connection import REDIS_DOWN, RetryDelay, client, node_id, redis_display
from stream_server.cluster.keys import Keys
from stream_server.cluster.outbox import RedisOutbox
from stream_server.cluster.registry import Identity
from stream_server.cluster.worker import IdentityLost, WorkerNode
from stream_server.hub import AnalyzerWithInfo, Hub

logger = logging.getLogger(__name__)


async def run_worker(config: Config, load_analyzer: Callable[[], AnalyzerWithInfo]) -> int:
    """Serve as a worker until a signal; DuplicateWorker (exit 2) when the id is taken."""
    cluster = config.cluster
    redis = client(cluster)
    keys = Keys(cluster.key_prefix)
    identity = Identity(redis, keys, node_id(cluster), cluster.lease_s)
    try:
        await _acquire(identity, config)
        logger.info("worker %s joined the cluster at %s", identity.worker, redis_display(cluster))
        analyzer = await asyncio.to_thread(load_analyzer)
        outbox = RedisOutbox(redis, keys, identity.worker, cluster)
        hub = Hub(analyzer, config, outbox)
        await hub.start()
        node = WorkerNode(config, hub, redis, identity, outbox)
        await _serve(node, outbox)
        await node.leave()
    finally:
        await redis.aclose()
    logger.info("worker %s stopped", identity.worker)
    return 0


async def _acquire(identity: Identity, config: Config) -> None:
    """Take the worker id, retrying (and saying so) while Redis cannot be reached."""
    cluster = config.cluster
    delay = RetryDelay(cluster.reconnect_max_s)
    while True:
        try:
            # One lease plus a heartbeat: time enough for the key of a crashed predecessor to expire.
            await identity.acquire(time.monotonic, cluster.lease_s + cluster.heartbeat_s)
            return
        except REDIS_DOWN as exc:
            wait = delay.next()
            reason = " ".join(str(exc).split()) or type(exc).__name__
            logger.warning("cannot reach Redis at %s (%s); retrying in %.1f s", redis_display(cluster), reason, wait)
            await asyncio.sleep(wait)


async def _serve(node: WorkerNode, outbox: RedisOutbox) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(outbox.run(), name="outbox"),
        asyncio.create_task(node.run(), name="cluster"),
        asyncio.create_task(node.run_thumbnails(), name="thumbnails"),
    ]
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, tasks[1]], return_when=asyncio.FIRST_COMPLETED)
    for task in (*tasks, waiter):
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    error = results[1]
    if isinstance(error, IdentityLost):
        logger.error("%s; stopping", error)
    elif isinstance(error, Exception):
        raise error
