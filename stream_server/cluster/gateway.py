"""`serve --role gateway`: the app's cluster side. Reads results from Redis, stores, broadcasts, acks.

The result stream is read with a consumer group. An entry is acknowledged only after the store has
committed its rows, so a gateway that dies (or restarts) re-reads its unacknowledged entries first —
nothing the workers sent is lost, at the price of possible duplicates after a crash (at-least-once).
Entries of another gateway that died are claimed after `_ORPHAN_IDLE_MS` (XAUTOCLAIM). A second loop
reads the desired cameras, the leases and the workers every heartbeat for the API and health. Either
loop failing marks the cluster degraded until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from detector import __version__
from detector.config import Config
from detector.pipeline import ModelInfo
from stream_server import messages
from stream_server.cluster import codec
from stream_server.cluster.cameras import (
    CameraSpec,
    add_camera,
    add_if_absent,
    config_camera_id,
    new_camera_id,
    read_cameras,
    remove_camera,
)
from stream_server.cluster.connection import REDIS_DOWN, RetryDelay, client, node_id, redis_display
from stream_server.cluster.keys import Keys
from stream_server.cluster.leases import read_holders
from stream_server.cluster.registry import WorkerView, read_workers
from stream_server.cluster.view import RemoteStreams
from stream_server.messages import Message
from stream_server.store import ScoreStore, StreamRecord

logger = logging.getLogger(__name__)

_READ_COUNT = 500
_BLOCK_MS = 1000
_ORPHAN_IDLE_MS = 60_000


class ClusterDown(RuntimeError):
    """Redis cannot be reached right now (the API answers 503)."""


class GatewayCluster:
    """Everything the gateway knows about and does with the cluster."""

    def __init__(
        self,
        config: Config,
        store: ScoreStore,
        publish: Callable[[list[Message]], None],
        info: ModelInfo,
        redis: aioredis.Redis | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._cluster = config.cluster
        self._store = store
        self._publish = publish
        self._info = info
        self._redis = redis if redis is not None else client(config.cluster)
        self._keys = Keys(config.cluster.key_prefix)
        self._wall = wall_clock
        self.node = node_id(config.cluster)
        self.view = RemoteStreams()
        self.workers: list[WorkerView] = []
        self.error: str | None = None
        self.stored = 0  # messages stored and acknowledged
        self.bad_entries = 0
        self._recorded: set[str] = set()  # cameras whose report record this gateway has written
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def degraded(self) -> bool:
        return self.error is not None

    async def start(self) -> None:
        """Create the group, publish config.yaml's cameras, then read in the background."""
        try:
            await self._create_group()
            await self._add_config_cameras()
            await self._poll_once()
        except REDIS_DOWN as exc:
            self._degrade(exc)
        self._tasks = [
            asyncio.create_task(self._consume(), name="cluster-consume"),
            asyncio.create_task(self._poll(), name="cluster-poll"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    # --- the API's side -------------------------------------------------------------------------------

    async def add_camera(self, name: str, url: str) -> dict[str, Any]:
        if len(self.view) >= self._cluster.max_cameras:
            raise ClusterFull(f"at most {self._cluster.max_cameras} cameras (cluster.max_cameras)")
        camera, spec = new_camera_id(), CameraSpec(name, url, self._wall())
        await self._call(add_camera(self._redis, self._keys, camera, spec))
        self._publish([self.view.add(camera, spec)])
        return self.view.summary(camera)

    async def remove_camera(self, camera: str) -> bool:
        if camera not in self.view:
            return False
        await self._call(remove_camera(self._redis, self._keys, camera))
        gone = self.view.remove(camera)
        self._end_record(camera)
        if gone is not None:
            self._publish([gone])
        return True

    async def picture(self, camera: str, track: int | None = None) -> bytes | None:
        """The latest JPEG a worker left for this camera (or one of its faces); None when expired."""
        key = self._keys.snapshot(camera) if track is None else self._keys.face(camera, track)
        data = await self._call(self._redis.get(key))
        return bytes(data) if data is not None else None

    def hello(self, local: list[dict[str, Any]], alerts_enabled: bool) -> Message:
        return messages.hello(self._info, [*local, *self.view.summaries()], alerts_enabled)

    def health(self) -> dict[str, Any]:
        now = self._wall()
        workers = [_worker_dict(w, now) for w in self.workers]
        live = [w for w in self.workers if not w.lost]
        models = {_model_key(w.info.model) for w in live}
        if self._cluster.gateway_analyzes:
            models.add(_model_key(messages.model_dict(self._info)))
        return {
            "state": "degraded" if self.degraded else "ok",
            "error": self.error,
            "redis": redis_display(self._cluster),
            "node": self.node,
            "workers": workers,
            "lost_workers": [w.info.id for w in self.workers if w.lost],
            "model_mismatch": len(models) > 1,
            "models": sorted(models),
            "version_mismatch": any(w.info.version != __version__ for w in live),
            "cameras": len(self.view),
            "unassigned": sum(self.view.owner(c) is None for c in self.view.cameras),
            "stored_messages": self.stored,
            "bad_entries": self.bad_entries,
        }

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except REDIS_DOWN as exc:
            self._degrade(exc)
            raise ClusterDown(f"cluster degraded: cannot reach Redis ({_reason(exc)})") from exc

    # --- reading results ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        delay = RetryDelay(self._cluster.reconnect_max_s)
        backlog: str | None = "0"  # our own unacknowledged entries first: a crash left them unstored
        need_group = False
        while True:
            try:
                if need_group:
                    await self._create_group()  # Redis lost its data (restarted without persistence)
                    need_group = False
                backlog = await self._read_once(backlog)
                self._recover()
                delay.reset()
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    need_group, backlog = True, "0"
                    continue
                logger.error("reading results failed: %s", exc)
                self._degrade(exc)
                await asyncio.sleep(delay.next())
            except REDIS_DOWN as exc:
                self._degrade(exc)
                backlog = "0"
                await asyncio.sleep(delay.next())

    async def _read_once(self, backlog: str | None) -> str | None:
        """Handle one batch; returns where the backlog read goes on (None once it is done)."""
        start = backlog if backlog is not None else ">"
        reply: Any = await self._redis.xreadgroup(
            self._keys.group,
            self.node,
            {self._keys.results: start},
            count=_READ_COUNT,
            block=None if backlog is not None else _BLOCK_MS,
        )
        entries = reply[0][1] if reply else []
        if backlog is not None and not entries:
            await self._claim_orphans()
            return None
        await self._handle(entries)
        return _text(entries[-1][0]) if backlog is not None else None

    async def _claim_orphans(self) -> None:
        """Take over entries another gateway read but never acknowledged (it died)."""
        reply: Any = await self._redis.xautoclaim(
            self._keys.results, self._keys.group, self.node, _ORPHAN_IDLE_MS, "0-0", count=_READ_COUNT
        )
        if reply and reply[1]:
            logger.warning("took over %d entries a stopped gateway left unacknowledged", len(reply[1]))
            await self._handle(reply[1])

    async def _handle(self, entries: Sequence[Any]) -> None:
        decoded: list[codec.Entry] = []
        for entry_id, fields in entries:
            if not fields:
                continue  # trimmed away (MAXLEN) before anyone read it: acknowledged below
            try:
                decoded.append(codec.decode(entry_id, fields))
            except codec.BadEntry as exc:
                self.bad_entries += 1
                logger.warning("skipped a result entry: %s", exc)
        for entry in decoded:
            self._record_streams(entry)
        stored = await asyncio.to_thread(self._store_batch, decoded)
        if not stored:
            raise ConnectionError("the store did not commit in time; entries stay pending")
        out = [m for e in decoded for msg in e.messages if (m := self.view.apply(msg, e.worker)) is not None]
        self._publish(out)
        if entries:
            await self._redis.xack(self._keys.results, self._keys.group, *[e[0] for e in entries])
        self.stored += sum(len(e.messages) for e in decoded)

    def _record_streams(self, entry: codec.Entry) -> None:
        """Write the report record (source, model) of a camera the first time a worker reports it running.

        Workers keep no store, so the evidence report of a cluster camera is built from what the gateway
        stored: this record, the scores and the alerts (not face crops: pictures stay on the workers)."""
        for message in entry.messages:
            stream = message.get("stream") if message.get("type") == "status" else None
            if not isinstance(stream, dict):
                continue
            camera = stream.get("id")
            if not isinstance(camera, str) or camera in self._recorded or camera not in self.view:
                continue
            if stream.get("removed") or stream.get("status") == "stopped":
                continue
            worker = next((w.info for w in self.workers if w.info.id == entry.worker), None)
            if worker is None:
                continue  # not read from the registry yet: the next status (every heartbeat) records it
            model = {
                "name": worker.model.get("name"),
                "software_version": worker.version,
                "threshold": worker.model.get("threshold"),
                "trained": worker.model.get("trained"),
                "bound": worker.model.get("bound", 0.0),
                "calibration": worker.model.get("calibration", "identity"),
            }
            spec = self.view.cameras[camera]
            kind = str(stream.get("kind", "rtsp"))
            self._store.add_stream(StreamRecord(camera, spec.name, kind, spec.display, None, spec.created, model))
            self._recorded.add(camera)

    def _end_record(self, camera: str) -> None:
        if camera in self._recorded:
            self._recorded.discard(camera)
            self._store.end_stream(camera, self._wall())

    def _store_batch(self, entries: list[codec.Entry]) -> bool:
        """Queue the rows and wait for their commit (in a thread: the store may block)."""
        for entry in entries:
            for message in entry.messages:
                try:
                    if message["type"] == "score":
                        self._store.add_scores([codec.face_score(message)], float(message["wall"]))
                    elif message["type"] == "event":
                        self._store.add_alert(codec.alert(message))
                except (KeyError, TypeError, ValueError) as exc:
                    self.bad_entries += 1
                    logger.warning("skipped a malformed %s message from %s: %r", message.get("type"), entry.worker, exc)
        return self._store.flush()

    # --- reading cameras, leases and workers ----------------------------------------------------------

    async def _poll(self) -> None:
        delay = RetryDelay(self._cluster.reconnect_max_s)
        while True:
            try:
                await self._poll_once()
                self._recover()
                delay.reset()
                wait = self._cluster.heartbeat_s
            except REDIS_DOWN as exc:
                self._degrade(exc)
                wait = min(delay.next(), self._cluster.heartbeat_s)
            await asyncio.sleep(wait)

    async def _poll_once(self) -> None:
        desired = await read_cameras(self._redis, self._keys)
        holders = await read_holders(self._redis, self._keys, sorted(desired))
        self.workers = await read_workers(self._redis, self._keys)
        for camera in [c for c in self.view.cameras if c not in desired]:
            self._end_record(camera)  # removed through another gateway (or by hand)
        self._publish(self.view.sync(desired, holders))

    async def _create_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._keys.results, self._keys.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _add_config_cameras(self) -> None:
        for camera in self._config.cameras:
            spec = CameraSpec(camera.name, camera.url, self._wall())
            await add_if_absent(self._redis, self._keys, config_camera_id(camera.name, camera.url), spec)

    def _degrade(self, exc: BaseException) -> None:
        if self.error is None:
            logger.warning(
                "cluster degraded: cannot reach Redis at %s (%s)", redis_display(self._cluster), _reason(exc)
            )
        self.error = f"cannot reach Redis: {_reason(exc)}"

    def _recover(self) -> None:
        if self.error is not None:
            logger.info("cluster recovered: Redis at %s answers again", redis_display(self._cluster))
        self.error = None


class ClusterFull(RuntimeError):
    """`cluster.max_cameras` cameras are configured already."""


def _worker_dict(view: WorkerView, now: float) -> dict[str, Any]:
    info = view.info
    return {
        "id": info.id,
        "host": info.host,
        "lost": view.lost,
        "last_heartbeat_s": round(max(0.0, now - info.beat), 1),
        "streams": len(info.streams),
        "stream_ids": list(info.streams),
        "capacity": info.capacity,
        "version": info.version,
        "model": info.model,
        "buffered": info.buffered,
        "dropped": info.dropped,
    }


def _model_key(model: dict[str, Any]) -> str:
    return f"{model.get('name')} (threshold {model.get('threshold')}, input {model.get('input_size')})"


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
