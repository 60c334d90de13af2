"""`serve --role worker`: run cameras the cluster assigns by lease, analyze them, send results to Redis.

No HTTP server and no store: a worker is the hub, the analyzer, the Redis outbox and this loop. Every
`cluster.heartbeat_s` one round drops cameras removed from the desired set or leased by
someone else, renews the rest, claims or gives up cameras as `placement.plan` says, heartbeats and re-announces the
status of what it runs (so a restarted gateway learns it). A second loop leaves fresh thumbnails in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable

import numpy as np
import redis.asyncio as aioredis

from detector import __version__
from detector.config import Config
from detector.frames import SourceError
from stream_server import messages
from stream_server.cluster.cameras import CameraSpec, read_cameras
from stream_server.cluster.connection import REDIS_DOWN, RetryDelay
from stream_server.cluster.keys import Keys
from stream_server.cluster.leases import Leases
from stream_server.cluster.outbox import RedisOutbox
from stream_server.cluster.placement import Peer, plan
from stream_server.cluster.registry import Identity, WorkerInfo, read_workers
from stream_server.hub import Hub, HubFull
from stream_server.images import encode_jpeg, face_thumbnail
from stream_server.ingest.rtsp import RtspSource, parse_camera_url

logger = logging.getLogger(__name__)

_THUMB_MAX_SIDE = 640


class IdentityLost(RuntimeError):
    """Another process took this worker's id (ours lapsed during an outage): this one must stop."""


class WorkerNode:
    """The worker's side of the cluster protocol, around a running hub."""

    def __init__(
        self,
        config: Config,
        hub: Hub,
        redis: aioredis.Redis,
        identity: Identity,
        outbox: RedisOutbox,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        cluster = config.cluster
        self._config = config
        self._hub = hub
        self._redis = redis
        self._keys = Keys(cluster.key_prefix)
        self._identity = identity
        self._outbox = outbox
        self._leases = Leases(redis, self._keys, identity.worker, cluster.lease_s)
        self._wall = wall_clock
        self._started = wall_clock()
        self._running: set[str] = set()
        self._free_before: set[str] = set()
        self._thumbs: dict[str, int] = {}  # camera → id() of the frame last sent as its thumbnail

    async def run(self) -> None:
        """Rounds until cancelled; an unreachable Redis is logged and retried, the cameras keep running."""
        # Capped at one heartbeat: after an outage our leases must be renewed before others take them.
        delay = RetryDelay(min(self._config.cluster.reconnect_max_s, self._config.cluster.heartbeat_s))
        while True:
            try:
                await self.round()
            except REDIS_DOWN as exc:
                self._free_before = set()  # what we saw before the outage says nothing about now
                wait = delay.next()
                logger.warning(
                    "Redis unreachable (%s); %d camera(s) still running; retrying in %.1f s",
                    _reason(exc),
                    len(self._running),
                    wait,
                )
                await asyncio.sleep(wait)
                continue
            delay.reset()
            await asyncio.sleep(self._config.cluster.heartbeat_s)

    async def round(self) -> None:
        # Renewing comes first: it is what keeps our cameras ours, and the rest of a round can be slow
        # on a busy machine.
        taken = await self._leases.renew(sorted(self._running))
        if taken:
            logger.warning("camera(s) %s now leased by another worker: stopping them here", ", ".join(taken))
            await self._stop(taken, release=False)
        desired = await read_cameras(self._redis, self._keys)
        await self._stop([c for c in self._running if c not in desired], release=True)
        await self._place(desired)
        # The heartbeat comes after placement, so the cameras it lists are those held once this round is done.
        if not await self._identity.heartbeat(self._info()):
            raise IdentityLost(f"another process now runs as worker '{self._identity.worker}'")
        for camera in sorted(self._running):
            self._hub.announce(camera)

    async def run_thumbnails(self) -> None:
        """Every heartbeat, apart from the rounds: encoding pictures must never delay a lease renewal."""
        while True:
            with contextlib.suppress(*REDIS_DOWN):  # the rounds log outages; a missed picture just expires
                await self._send_thumbnails()
            await asyncio.sleep(self._config.cluster.heartbeat_s)

    async def leave(self) -> None:
        """Clean shutdown: stop the cameras, give their leases and the id up, send what is buffered."""
        cameras = sorted(self._running)
        await self._hub.stop()
        self._running.clear()
        try:
            await self._leases.release(cameras)
            await self._outbox.flush(self._config.server.graceful_shutdown_s)
            await self._identity.leave()
        except REDIS_DOWN as exc:
            logger.warning("Redis unreachable at shutdown (%s): leases will expire by themselves", _reason(exc))

    async def _place(self, desired: dict[str, CameraSpec]) -> None:
        holders = await self._leases.holders(sorted(desired))
        free = {c for c, holder in holders.items() if holder is None}
        free_for_a_round = sorted(free & self._free_before)
        self._free_before = free
        me = self._identity.worker
        peers = [
            Peer(v.info.id, len(v.info.streams), v.info.capacity)
            for v in await read_workers(self._redis, self._keys)
            if not v.lost and v.info.id != me
        ]
        placement = plan(desired, self._running, free_for_a_round, Peer(me, len(self._running), self._capacity), peers)
        if placement.release:
            logger.info("handing %d camera(s) to other workers (balance)", len(placement.release))
            await self._stop(placement.release, release=True)
        for camera in await self._leases.claim(placement.claim):
            await self._start(camera, desired[camera])

    async def _start(self, camera: str, spec: CameraSpec) -> None:
        try:
            source = RtspSource(parse_camera_url(spec.url), self._config.rtsp, self._config.analysis.fps)
            self._hub.add(source, spec.name, stream_id=camera)
        except (SourceError, HubFull) as exc:
            logger.error("camera %s (%s) not started: %s", camera, spec.display, exc)
            await self._leases.release([camera])
            return
        self._running.add(camera)
        logger.info("camera %s (%s) claimed", camera, spec.display)

    async def _stop(self, cameras: Iterable[str], release: bool) -> None:
        cameras = list(cameras)
        for camera in cameras:
            self._running.discard(camera)
            self._thumbs.pop(camera, None)
            await self._hub.remove(camera)
        if release:
            await self._leases.release(cameras)

    def _info(self) -> WorkerInfo:
        return WorkerInfo(
            id=self._identity.worker,
            host=socket.gethostname(),
            pid=os.getpid(),
            streams=tuple(sorted(self._running)),
            capacity=self._capacity,
            version=__version__,
            model=messages.model_dict(self._hub.info),
            started=round(self._started, 3),
            beat=round(self._wall(), 3),
            buffered=self._outbox.buffered,
            dropped=self._outbox.dropped,
        )

    @property
    def _capacity(self) -> int:
        return self._config.server.max_streams

    async def _send_thumbnails(self) -> None:
        """The newest frame and face crops of each camera as JPEG keys that expire (read by reference)."""
        frames: dict[str, np.ndarray] = {}
        crops: dict[tuple[str, int], np.ndarray] = {}
        streams = self._hub.streams
        for camera in self._running:
            image = streams.snapshot(camera)
            if image is not None and self._thumbs.get(camera) != id(image):
                frames[camera] = image
                self._thumbs[camera] = id(image)
                for face in (streams.summary(camera) or {}).get("faces", []):
                    crop = streams.face_crop(camera, face["track"])
                    if crop is not None:
                        crops[(camera, face["track"])] = crop
        if not frames:
            return
        jpegs = await asyncio.to_thread(self._encode, frames, crops)  # JPEG encoding stays off the loop
        ttl_ms = int(self._config.cluster.thumbnail_ttl_s * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, data in jpegs.items():
                pipe.set(key, data, px=ttl_ms)
            await pipe.execute()

    def _encode(self, frames: dict[str, np.ndarray], crops: dict[tuple[str, int], np.ndarray]) -> dict[str, bytes]:
        out = {self._keys.snapshot(c): encode_jpeg(image, 80, _THUMB_MAX_SIDE) for c, image in frames.items()}
        out.update({self._keys.face(c, track): face_thumbnail(crop) for (c, track), crop in crops.items()})
        return out


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
