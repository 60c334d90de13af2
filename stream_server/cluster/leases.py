"""Camera leases and worker identity as expiring Redis keys, changed atomically (SET NX PX and Lua).

A lease key holds the id of the worker that reads the camera and expires `cluster.lease_s` after its
last renewal: a worker that dies (kill -9, power, network) stops renewing and its cameras become free
by themselves. Renewing and releasing check the holder inside Redis (a Lua script), so a worker whose
lease lapsed and was taken can never extend or delete the new holder's.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from stream_server.cluster.keys import Keys

# Renew every key this worker holds; take back one that expired (Redis restarted, or a long outage)
# since we are still reading it. 1 = ours, 0 = someone else holds it now (stop reading that camera).
_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] or not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""


class Leases:
    """One worker's view of the lease keys."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, worker: str, lease_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self._worker = worker
        self._ms = int(lease_s * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def holders(self, cameras: Sequence[str]) -> dict[str, str | None]:
        """Who holds each camera's lease (None: free)."""
        return await read_holders(self._redis, self._keys, cameras)

    async def claim(self, cameras: Sequence[str]) -> list[str]:
        """Try to take free cameras; returns those now ours (another worker may have been quicker)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for camera in cameras:
                pipe.set(self._keys.lease(camera), self._worker, nx=True, px=self._ms)
            won = await pipe.execute()
        return [c for c, ok in zip(cameras, won, strict=True) if ok]

    async def renew(self, cameras: Sequence[str]) -> list[str]:
        """Extend our leases; returns the cameras someone else holds now."""
        if not cameras:
            return []
        kept = await self._renew(keys=[self._keys.lease(c) for c in cameras], args=[self._worker, self._ms])
        return [c for c, ok in zip(cameras, kept, strict=True) if not ok]

    async def release(self, cameras: Sequence[str]) -> None:
        if cameras:
            await self._release(keys=[self._keys.lease(c) for c in cameras], args=[self._worker])


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


async def read_holders(redis: aioredis.Redis, keys: Keys, cameras: Sequence[str]) -> dict[str, str | None]:
    """Who holds each camera's lease (None: free)."""
    if not cameras:
        return {}
    values = await redis.mget([keys.lease(c) for c in cameras])
    return {c: _text(v) for c, v in zip(cameras, values, strict=True)}
