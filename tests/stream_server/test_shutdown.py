"""`deepfake-monitor serve` as a real process: SIGTERM mid-upload leaves every score a client saw in SQLite."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.stream_server.conftest import free_port, wait_message

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """The server in a child process; a thread reads its log and signals when it is ready."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.db = tmp_path / "scores.db"
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"server": {"upload_dir": str(tmp_path / "up"), "web_dir": str(tmp_path)}}))
        command = [sys.executable, "-m", "detector.cli", "serve", "--config", str(config)]
        command += ["--port", str(self.port), "--db", str(self.db)]
        self.process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.log: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "Uvicorn running on" in line:  # logged once the socket listens
                self.ready.set()
        self.ready.set()  # exited: let the waiter look at the log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path)
    yield server
    server.stop()


@pytest.mark.asyncio
async def test_sigterm_flushes_every_sent_score(serve_process: ServeProcess, face_loop_bytes: bytes) -> None:
    server = serve_process
    assert server.ready.wait(120) and server.process.poll() is None, "".join(server.log)
    seen: list[dict[str, Any]] = []
    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws, httpx.AsyncClient() as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        reply = await http.post(f"http://127.0.0.1:{server.port}/api/uploads?name=loop.mp4", content=face_loop_bytes)
        assert reply.status_code == 201, reply.text
        for _ in range(30):
            await wait_message(ws, lambda m: m["type"] == "score", seen)
        server.process.send_signal(signal.SIGTERM)
        try:
            async for raw in ws:  # whatever was still sent before the server closed the socket
                seen.append(json.loads(raw))
        except ConnectionClosed:
            pass
    # uvicorn re-raises SIGTERM once shut down, so the exit status is the signal's; what matters is the
    # orderly shutdown before it.
    assert server.process.wait(60) in (0, -signal.SIGTERM), "".join(server.log)
    assert any("Application shutdown complete" in line for line in server.log), "".join(server.log)

    sent = {(m["stream"], m["track"], m["t"]) for m in seen if m["type"] == "score"}
    with sqlite3.connect(server.db) as db:
        stored = {(s, k, round(t, 3)) for s, k, t in db.execute("SELECT stream, track, t FROM scores")}
    assert len(sent) >= 30
    assert sent <= stored
    assert not [m for m in seen if m["type"] == "status" and m["stream"]["progress"] == 1.0], "finished too soon"
