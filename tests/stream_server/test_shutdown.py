"""`deepfake-monitor serve` as a real process.

SIGTERM mid-upload leaves every score a client saw in SQLite and closes open alerts; after a SIGKILL the
database passes `PRAGMA integrity_check`, at most a second of the scores a client saw is missing, and the
next start closes the alerts the crash left open. Alerts need a trained model by default, so these
servers run with a low threshold and `events.require_trained_model: false`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers.alerting import alerting_sections, write_always_fake
from tests.stream_server.conftest import free_port, wait_message

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """The server in a child process; a thread reads its log and signals when it is ready."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.db = tmp_path / "scores.db"
        config = tmp_path / "config.yaml"
        server = {"upload_dir": str(tmp_path / "up"), "web_dir": str(tmp_path)}
        # A calibration that calls every face fake: the faces alert, so shutdown has alerts to close.
        sections = alerting_sections(write_always_fake(tmp_path))
        config.write_text(yaml.safe_dump({**sections, "server": server}))
        command = [sys.executable, "-m", "detector.cli", "serve", "--config", str(config)]
        command += ["--port", str(self.port), "--db", str(self.db)]
        self.process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.log: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "Uvicorn running on" in line:  # logged once the socket listens
                self.ready.set()
        self.ready.set()  # exited: let the waiter look at the log

    def wait_ready(self) -> None:
        assert self.ready.wait(120) and self.process.poll() is None, "".join(self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[], ServeProcess]]:
    started: list[ServeProcess] = []

    def start() -> ServeProcess:
        started.append(ServeProcess(tmp_path))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for server in started:
        server.stop()


async def _until_stored(http: httpx.AsyncClient, url: str, alert_id: str) -> None:
    """The store promises a row within a second of the message, not before it: look until it is there."""
    while True:
        events = (await http.get(f"{url}/api/events")).json()["events"]
        if alert_id in {e["id"] for e in events}:
            return
        await asyncio.sleep(0.05)  # another process's disk: there is no event to wait on


def _is_alert_start(message: dict[str, Any]) -> bool:
    return message["type"] == "event" and message["event"]["phase"] == "start"


@pytest.mark.asyncio
async def test_sigterm_flushes_every_sent_score(
    start_server: Callable[[], ServeProcess], face_loop_bytes: bytes
) -> None:
    server = start_server()
    seen: list[dict[str, Any]] = []
    async with connect(server.url.replace("http", "ws") + "/ws") as ws, httpx.AsyncClient() as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        for name in ("loop.mp4", "second.mp4"):  # two streams: the worker is busy when the signal comes
            reply = await http.post(f"{server.url}/api/uploads?name={name}", content=face_loop_bytes)
            assert reply.status_code == 201, reply.text
        await wait_message(ws, _is_alert_start, seen)
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
        reasons = [r for (r,) in db.execute("SELECT end_reason FROM events")]
    print(f"FIGURE sigterm sent={len(sent)} stored={len(stored)} missing={len(sent - stored)}", flush=True)
    assert len(sent) >= 30
    assert sent <= stored
    assert not [m for m in seen if m["type"] == "status" and m["stream"]["progress"] == 1.0], "finished too soon"
    assert reasons and None not in reasons and "shutdown" in reasons  # the open alert was closed on the way out


@pytest.mark.asyncio
async def test_start_after_crash_closes_open_alerts(
    start_server: Callable[[], ServeProcess], face_loop_bytes: bytes
) -> None:
    crashed = start_server()
    seen: list[dict[str, Any]] = []
    async with connect(crashed.url.replace("http", "ws") + "/ws") as ws, httpx.AsyncClient() as http:
        await http.post(f"{crashed.url}/api/uploads?name=loop.mp4", content=face_loop_bytes)
        alert = (await wait_message(ws, _is_alert_start, seen))["event"]
        await asyncio.wait_for(_until_stored(http, crashed.url, alert["id"]), 30)
        crashed.process.kill()  # SIGKILL: no shutdown code runs
    crashed.process.wait(30)

    restarted = start_server()
    async with httpx.AsyncClient() as http:
        events = (await http.get(f"{restarted.url}/api/events")).json()["events"]
    by_id = {e["id"]: e for e in events}
    assert by_id[alert["id"]]["end_reason"] == "interrupted"
    assert all(e["end_wall"] is not None for e in events)


@pytest.mark.asyncio
async def test_sigkill_keeps_the_database_sound_and_loses_under_a_second(
    start_server: Callable[[], ServeProcess], face_loop_bytes: bytes
) -> None:
    server = start_server()
    seen: list[dict[str, Any]] = []
    async with connect(server.url.replace("http", "ws") + "/ws") as ws, httpx.AsyncClient() as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        for name in ("a.mp4", "b.mp4"):
            reply = await http.post(f"{server.url}/api/uploads?name={name}", content=face_loop_bytes)
            assert reply.status_code == 201, reply.text
        for _ in range(60):
            await wait_message(ws, lambda m: m["type"] == "score", seen)
        server.process.kill()  # SIGKILL: no shutdown code runs, nothing is flushed
        try:
            async for raw in ws:  # already on the wire before the kill
                seen.append(json.loads(raw))
        except ConnectionClosed:
            pass
    server.process.wait(30)
    last_seen = max(m["wall"] for m in seen if m["type"] == "score")
    with sqlite3.connect(server.db) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        newest = db.execute("SELECT MAX(wall) FROM scores").fetchone()[0]
    lost_s = max(0.0, last_seen - newest)
    print(f"FIGURE sigkill integrity={integrity} lost_s={lost_s:.3f}", flush=True)
    assert integrity == "ok"
    assert lost_s <= 1.0
