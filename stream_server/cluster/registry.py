"""Workers: one identity per worker id, a heartbeat with what the worker runs, and the gateway's read.

A worker id is held by an expiring key carrying a random token of the process that owns it. A second
process started with the same id finds the key taken, waits one lease (the first may have just died
without cleaning up) and is refused if the key is still renewed by someone else. The heartbeat itself
is a JSON record in one hash, kept after the key expires, so the gateway can show a dead worker as lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import redis.asyncio as aioredis

from detector.config import ConfigError
from stream_server.cluster.keys import Keys

logger = logging.getLogger(__name__)

_BEAT = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_LEAVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return 0
"""

_POLL_S = 0.5


class DuplicateWorker(ConfigError):
    """Another live process runs with this worker id (a one-line error, exit 2)."""


@dataclass(frozen=True)
class WorkerInfo:
    """One heartbeat: who the worker is, what it runs and what it has had to drop."""

    id: str
    host: str
    pid: int
    streams: tuple[str, ...]
    capacity: int
    version: str
    model: dict[str, Any]
    started: float  # unix seconds
    beat: float  # unix seconds of this heartbeat
    buffered: int = 0  # messages waiting for Redis
    dropped: int = 0  # messages dropped because the buffer was full

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: bytes | str) -> WorkerInfo:
        """Fields this version does not know (a newer worker's) are ignored."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["streams"] = tuple(data["streams"])
        return cls(**data)


@dataclass(frozen=True)
class WorkerView:
    """A worker as the gateway reports it: its latest heartbeat, and whether its identity key expired."""

    info: WorkerInfo
    lost: bool


class Identity:
    """This process's hold on its worker id."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, worker: str, lease_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self.worker = worker
        self._lease_s = lease_s
        self._token = secrets.token_hex(8)
        self._beat = redis.register_script(_BEAT)
        self._leave = redis.register_script(_LEAVE)

    async def acquire(self, clock: Callable[[], float], wait_s: float) -> None:
        """Take the id, waiting up to `wait_s` for a dead holder's key to expire; DuplicateWorker if it does not."""
        deadline = clock() + wait_s
        while not await self._redis.set(self._key, self._token, nx=True, px=self._ms):
            if clock() >= deadline:
                raise DuplicateWorker(
                    f"another worker with id '{self.worker}' is running (its heartbeat is current); "
                    "give this one a different cluster.node_id (--node-id)"
                )
            await asyncio.sleep(_POLL_S)
        # A record left by a predecessor that died describes cameras this process does not run.
        await self._redis.hdel(self._keys.workers, self.worker)

    async def heartbeat(self, info: WorkerInfo) -> bool:
        """Renew the id and publish the heartbeat; False when another process holds the id now."""
        if not await self._beat(keys=[self._key], args=[self._token, self._ms]):
            return False
        await self._redis.hset(self._keys.workers, self.worker, info.to_json())
        return True

    async def leave(self) -> None:
        """Give the id up and drop the heartbeat: a worker that shut down cleanly is not 'lost'."""
        await self._leave(keys=[self._key, self._keys.workers], args=[self._token, self.worker])

    @property
    def _key(self) -> str:
        return self._keys.node(self.worker)

    @property
    def _ms(self) -> int:
        return int(self._lease_s * 1000)


async def read_workers(redis: aioredis.Redis, keys: Keys) -> list[WorkerView]:
    """Every worker that has heartbeated, live or lost, ordered by id."""
    infos: list[WorkerInfo] = []
    for value in (await redis.hgetall(keys.workers)).values():
        try:
            infos.append(WorkerInfo.from_json(value))
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("a malformed heartbeat in %s was skipped: %s", keys.workers, exc)
    infos.sort(key=lambda i: i.id)
    if not infos:
        return []
    alive = await redis.mget([keys.node(i.id) for i in infos])
    return [WorkerView(info, token is None) for info, token in zip(infos, alive, strict=True)]
