"""Fixtures for the server tests: a config on temp paths, the app under a real uvicorn, a looped face clip.

The session-wide `analyzer` (tests/conftest.py) is injected into every app: model loading costs seconds.
Only one app runs at a time, so its single inference worker is the analyzer's only caller.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette

from detector.config import Config
from detector.pipeline import Analyzer
from stream_server.app import create_app

LOOPS = 25  # 25 × 4 s: long enough that a camera never reaches the end of the file during a test


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """Defaults, with the store and uploads under tmp_path and any section overrides given."""
    data: dict[str, Any] = {
        "store": {"path": str(tmp_path / "scores.db")},
        # TestClient sends `Host: testserver`, which an open server would refuse (DNS-rebinding guard).
        "server": {
            "upload_dir": str(tmp_path / "uploads"),
            "web_dir": str(tmp_path / "web"),
            "allowed_hosts": ["testserver"],
        },
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Config.model_validate(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    app: Starlette
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@pytest.fixture
def serve(analyzer: Analyzer, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start the app under uvicorn in a thread: `serve(rtsp={...})` overrides config sections, and
    `serve(shared=wrapper)` puts a wrapper around the session's analyzer."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(shared: Any = None, **sections: dict[str, Any]) -> LiveServer:
        app = create_app(make_config(tmp_path, **sections), shared if shared is not None else analyzer)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        running.append((server, thread))
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            thread.join(0.05)
        return LiveServer(app, port)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(30)


def carphone_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


@pytest.fixture(scope="session")
def face_frames(carphone: Path) -> list[np.ndarray]:
    return carphone_frames(carphone)


@pytest.fixture(scope="session")
def face_loop(tmp_path_factory: pytest.TempPathFactory, face_frames: list[np.ndarray]) -> Path:
    """The carphone clip looped LOOPS times as H.264 mp4 at 30 fps, with a keyframe every half second."""
    path = tmp_path_factory.mktemp("rtsp") / "face-loop.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"g": "15", "preset": "veryfast", "tune": "zerolatency"})
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        for i in range(LOOPS * len(face_frames)):
            frame = av.VideoFrame.from_ndarray(face_frames[i % len(face_frames)], format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


async def next_message(ws: Any, predicate: Callable[[dict[str, Any]], bool], seen: list[dict[str, Any]]) -> dict:
    """Read /ws messages (recording each in `seen`) until one satisfies `predicate`."""
    while True:
        message = json.loads(await ws.recv())
        seen.append(message)
        if predicate(message):
            return message


async def wait_message(
    ws: Any, predicate: Callable[[dict[str, Any]], bool], seen: list[dict[str, Any]], guard_s: float = 60
) -> dict[str, Any]:
    """`next_message` with a generous guard, so a broken server fails the test instead of hanging it."""
    return await asyncio.wait_for(next_message(ws, predicate, seen), guard_s)


@pytest.fixture(scope="session")
def carphone_bytes(carphone: Path) -> bytes:
    return carphone.read_bytes()


@pytest.fixture(scope="session")
def face_loop_bytes(face_loop: Path) -> bytes:
    return face_loop.read_bytes()


# --- a real RTSP server (GStreamer, run by the system python) ---------------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"
HELPER = Path(__file__).with_name("rtsp_server.py")
SECRET = "s3cr3t-pass"


_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("filesrc", "qtdemux", "h264parse", "rtph264pay") if Gst.ElementFactory.find(e) is None]
raise SystemExit(", ".join(missing) or None)
"""


def _gstreamer_missing() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        detail = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "missing elements"
        return f"GStreamer RTSP server unavailable ({detail}); apt packages: .ci/apt-packages.txt"
    return None


class RtspServer:
    """The helper script as a child process; restartable on the same port."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://viewer:{SECRET}@127.0.0.1:{self.port}/face"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(HELPER), str(self.port), str(self.clip)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until the server listens (or dies)
        assert line.strip() == "READY", line

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def rtsp_server(face_loop: Path) -> Iterator[RtspServer]:
    reason = _gstreamer_missing()
    if reason:
        pytest.skip(reason)
    server = RtspServer(face_loop)
    server.start()
    yield server
    server.kill()
