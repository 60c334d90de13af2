"""The desired camera set: one Redis hash the gateway writes and every worker reads.

Camera URLs are stored as given, credentials included, because the worker that claims a camera must
connect to it: Redis is part of the trusted core (AUTH/TLS, docs/cluster.md). Nothing read from here is
shown anywhere without `mask_credentials`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from detector.frames import mask_credentials
from stream_server.cluster.keys import Keys

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSpec:
    """One desired camera."""

    name: str
    url: str  # may hold credentials: never log or return it as is
    created: float  # unix seconds

    @property
    def display(self) -> str:
        return mask_credentials(self.url)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: bytes | str) -> CameraSpec:
        return cls(**json.loads(text))


def new_camera_id() -> str:
    return "s-" + uuid.uuid4().hex[:10]


def config_camera_id(name: str, url: str) -> str:
    """Cameras from config.yaml get an id derived from them, so a restarted gateway does not add them twice."""
    return "c-" + hashlib.sha256(f"{name}\n{url}".encode()).hexdigest()[:10]


async def read_cameras(redis: aioredis.Redis, keys: Keys) -> dict[str, CameraSpec]:
    """The desired set; a record that does not parse is skipped and logged (someone edited Redis by hand)."""
    out: dict[str, CameraSpec] = {}
    for key, value in (await redis.hgetall(keys.cameras)).items():
        camera = key.decode() if isinstance(key, bytes) else key
        try:
            out[camera] = CameraSpec.from_json(value)
        except (ValueError, TypeError) as exc:
            logger.warning("camera %s in %s is malformed, skipped: %s", camera, keys.cameras, exc)
    return out


async def add_camera(redis: aioredis.Redis, keys: Keys, camera_id: str, spec: CameraSpec) -> None:
    await redis.hset(keys.cameras, camera_id, spec.to_json())


async def add_if_absent(redis: aioredis.Redis, keys: Keys, camera_id: str, spec: CameraSpec) -> bool:
    return bool(await redis.hsetnx(keys.cameras, camera_id, spec.to_json()))


async def remove_camera(redis: aioredis.Redis, keys: Keys, camera_id: str) -> bool:
    return bool(await redis.hdel(keys.cameras, camera_id))
