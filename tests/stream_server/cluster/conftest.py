"""A real cluster on loopback: redis-server (Debian package), GStreamer's RTSP server, and gateway and
worker processes started with `deepfake-monitor serve --role ...`, each with its own log file."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import redis
import yaml

from tests.stream_server.conftest import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """redis-server as a child process on a fixed port, with an append-only file so a restart keeps its data."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--save", "", "--daemonize", "no", "--protected-mode", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def stop(self) -> None:
        """SIGTERM: Redis writes its data out and exits, as a service restart does."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not installed (apt package redis-server, listed in .ci/apt-packages.txt)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@dataclass
class Node:
    """One `deepfake-monitor serve --role ...` process."""

    role: str
    node_id: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> None:
        command = [sys.executable, "-m", "detector.cli", "serve", "--role", self.role, "--config", str(self.config)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([*command, "--node-id", self.node_id], stdout=out, stderr=out)

    def kill(self) -> None:
        """kill -9: no clean-up of any kind, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def write_config(path: Path, redis_url: str, port: int, db: Path, **overrides: dict[str, Any]) -> Path:
    """A light config for a loaded 2-core machine: 2 analyzed frames per second, 5 s leases."""
    data: dict[str, Any] = {
        "analysis": {"fps": 2},
        "server": {"port": port, "max_streams": 6},
        "store": {"path": str(db)},
        "rtsp": {
            # Generous: on a loaded 2-core machine six cameras connecting at once can take seconds.
            "open_timeout_s": 10,
            "read_timeout_s": 10,
            "stall_s": 5,
            "backoff_initial_s": 0.5,
            "backoff_max_s": 2,
            "allow_networks": ["127.0.0.0/8"],
        },
        "cluster": {
            "redis_url": redis_url,
            "lease_s": 5,
            "heartbeat_s": 1,
            "reconnect_max_s": 1,
            "thumbnail_ttl_s": 3,
            "gateway_analyzes": False,
        },
    }
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    path.write_text(yaml.safe_dump(data))
    return path


def wait_for(check: Any, timeout_s: float, what: str, step_s: float = 0.25) -> Any:
    """Poll `check()` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except (httpx.HTTPError, redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(step_s)


@pytest.fixture(scope="session")
def small_camera_clip(tmp_path_factory: pytest.TempPathFactory, face_frames: list[np.ndarray]) -> Path:
    """The carphone face at 176×144 and 10 fps, looped for ten minutes: cheap to serve six times over."""
    path = tmp_path_factory.mktemp("cluster") / "camera.mp4"
    frames = face_frames[::3]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"g": "10", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for i in range(600 * 10):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
