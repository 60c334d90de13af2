"""Connecting to Redis: the client, the masked URL shown in logs and health, and the retry wait."""

from __future__ import annotations

import socket

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from detector.config import ClusterConfig, ConfigError
from detector.frames import mask_credentials

# Blocking reads wait at most 1 s; a socket timeout well above that tells a dead server from a quiet one.
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3.0
# What a lost or refused connection raises: redis-py's errors and the OS's (a reset socket mid-read).
REDIS_DOWN = (RedisError, OSError)


class ClusterUnavailable(ConfigError):
    """The gateway cannot reach `cluster.redis_url` at start (a one-line error, exit 2)."""


def redis_display(config: ClusterConfig) -> str:
    """The Redis URL with any password masked: what logs and /api/health may show."""
    return mask_credentials(config.redis_url or "")


def node_id(config: ClusterConfig) -> str:
    return config.node_id or socket.gethostname()


def client(config: ClusterConfig) -> aioredis.Redis:
    """A client for `cluster.redis_url`; connects lazily, on the first command."""
    if config.redis_url is None:
        raise ConfigError("cluster.redis_url is required with --role gateway or --role worker")
    try:
        return aioredis.Redis.from_url(
            config.redis_url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            # We retry ourselves (with backoff and logging); the client's own retries would hide outages.
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise ConfigError(f"cluster.redis_url: {exc}") from exc


async def check_reachable(config: ClusterConfig) -> None:
    """PING once; raise ClusterUnavailable naming the (masked) URL when Redis does not answer."""
    redis = client(config)
    try:
        await redis.ping()
    except REDIS_DOWN as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterUnavailable(f"cannot reach Redis at {redis_display(config)}: {reason}") from exc
    finally:
        await redis.aclose()


class RetryDelay:
    """Waits between attempts to reach Redis: 0.5 s, doubling, capped at `cluster.reconnect_max_s`."""

    INITIAL_S = 0.5

    def __init__(self, max_s: float) -> None:
        self._max = max_s
        self._next = self.INITIAL_S
        self.failures = 0

    def next(self) -> float:
        wait = min(self._next, self._max)
        self._next = wait * 2
        self.failures += 1
        return wait

    def reset(self) -> None:
        self._next = self.INITIAL_S
        self.failures = 0
