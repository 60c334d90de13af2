"""A worker's sink: messages go to the Redis result stream, through a bounded buffer that outlives outages.

The hub publishes on the event loop; `publish` only appends to the buffer, and one task sends it with
XADD ... MAXLEN ~ (approximate trimming costs Redis nothing per entry). While Redis is unreachable the
worker keeps analyzing and the buffer holds up to `cluster.buffer_messages` messages; beyond that the
oldest batches are dropped and counted (the latest state is what a dashboard needs most), and the task
retries with a doubling wait. Scores and alerts are not written anywhere else on a worker: they travel
inside their messages and the gateway stores them before acknowledging.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

import redis.asyncio as aioredis

from detector.config import ClusterConfig
from detector.report.evidence import CropChoice
from detector.types import FaceScore
from stream_server.cluster import codec
from stream_server.cluster.connection import REDIS_DOWN, RetryDelay
from stream_server.cluster.keys import Keys
from stream_server.messages import Message
from stream_server.store import StreamRecord
from stream_server.types import Alert

logger = logging.getLogger(__name__)

_BATCHES_PER_SEND = 200


class RedisOutbox:
    """`ResultSink` of a cluster worker."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, worker: str, config: ClusterConfig) -> None:
        self._redis = redis
        self._keys = keys
        self._worker = worker
        self._config = config
        self._batches: deque[list[Message]] = deque()
        self._ready = asyncio.Event()
        self._delay = RetryDelay(config.reconnect_max_s)
        self.buffered = 0  # messages waiting
        self.dropped = 0  # messages dropped because the buffer was full
        self.sent = 0

    def add_scores(self, faces: Sequence[FaceScore], wall: float) -> None:
        """Nothing to do here: the score messages that follow carry every field the gateway stores."""

    def add_alert(self, alert: Alert) -> None:
        """Nothing to do here: the event message that follows carries the alert."""

    def add_stream(self, record: StreamRecord) -> None:
        """Nothing to do here: the gateway records a camera for its report from the camera's status messages."""

    def end_stream(self, stream_id: str, wall: float) -> None:
        """Nothing to do here: the gateway marks a camera ended when it is removed from the cluster."""

    def add_crop(self, stream_id: str, choice: CropChoice) -> None:
        """Dropped: evidence crops are not sent through Redis, so a cluster camera's report has no face crops."""

    def publish(self, out: list[Message]) -> None:
        batch = [codec.with_owner(m, self._worker) for m in out]
        self._batches.append(batch)
        self.buffered += len(batch)
        while self.buffered > self._config.buffer_messages and len(self._batches) > 1:
            lost = self._batches.popleft()
            self.buffered -= len(lost)
            self.dropped += len(lost)
        self._ready.set()

    async def run(self) -> None:
        """Send the buffer until cancelled, waiting out Redis outages."""
        while True:
            if not self._batches:
                self._ready.clear()
                await self._ready.wait()
                continue
            try:
                await self._send()
            except REDIS_DOWN as exc:
                wait = self._delay.next()
                logger.warning(
                    "Redis unreachable (%s): %d messages buffered, %d dropped; retrying in %.1f s",
                    " ".join(str(exc).split()) or type(exc).__name__,
                    self.buffered,
                    self.dropped,
                    wait,
                )
                await asyncio.sleep(wait)
                continue
            if self._delay.failures:
                logger.info("Redis reachable again: buffered results sent")
            self._delay.reset()

    async def flush(self, timeout_s: float) -> bool:
        """Send what is buffered (at shutdown); False when Redis did not take it all in time."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._batches:
                    await self._send()
        except (TimeoutError, *REDIS_DOWN):
            return False
        return True

    async def _send(self) -> None:
        taken = list(self._batches)[:_BATCHES_PER_SEND]
        async with self._redis.pipeline(transaction=False) as pipe:
            for batch in taken:
                pipe.xadd(
                    self._keys.results,
                    codec.encode(self._worker, batch),  # type: ignore[arg-type]
                    maxlen=self._config.stream_maxlen,
                    approximate=True,
                )
            await pipe.execute()
        # Only now are they Redis's: a failed send keeps them for the next attempt.
        # Batches dropped for room while the send was in flight are gone already (they were the oldest).
        ours = {id(batch) for batch in taken}
        while self._batches and id(self._batches[0]) in ours:
            sent = self._batches.popleft()
            self.buffered -= len(sent)
            self.sent += len(sent)
