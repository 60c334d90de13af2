"""RTSP ingest against a real RTSP server process (GStreamer's, driven by the system Python).

The server is killed and started again mid-stream: the camera must go back to `live` by itself.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.stream_server.conftest import SECRET, LiveServer, RtspServer, free_port, wait_message

pytestmark = pytest.mark.integration

# Short timeouts and backoff so a reconnection happens within a few seconds. The test server listens on
# loopback, which cameras may only use when it is allow-listed.
RTSP = {
    "open_timeout_s": 3,
    "read_timeout_s": 3,
    "stall_s": 2,
    "backoff_initial_s": 0.5,
    "backoff_max_s": 2,
    "allow_networks": ["127.0.0.0/8"],
}


def _status(stream_id: str, *statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "status" and m["stream"]["id"] == stream_id and m["stream"]["status"] in statuses


@pytest.mark.asyncio
async def test_camera_scores_and_reconnects_after_server_restart(
    serve: Callable[..., LiveServer], rtsp_server: RtspServer
) -> None:
    server = serve(rtsp=RTSP)
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        reply = await http.post("/api/streams", json={"url": rtsp_server.url, "name": "door"})
        assert reply.status_code == 201, reply.text
        stream_id = reply.json()["id"]
        await wait_message(ws, _status(stream_id, "live"), seen)
        for _ in range(3):
            await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)

        rtsp_server.kill()
        lost = await wait_message(ws, _status(stream_id, "reconnecting", "stalled"), seen)
        rtsp_server.start()
        await wait_message(ws, _status(stream_id, "live"), seen)
        await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)

        listed = (await http.get("/api/streams")).json()["streams"]
        health = (await http.get("/api/health")).json()
        assert (await http.delete(f"/api/streams/{stream_id}")).status_code == 200
        await wait_message(ws, _status(stream_id, "stopped"), seen)

    assert lost["stream"]["status"] in ("reconnecting", "stalled")
    [camera] = listed
    assert camera["status"] == "live" and camera["kind"] == "rtsp" and camera["name"] == "door"
    assert health["status"] == "ok"
    # Credentials never leave the server: not in API replies, not on the WebSocket.
    assert SECRET not in reply.text and SECRET not in str(listed)
    assert not [m for m in seen if SECRET in str(m)]
    assert "viewer:" not in camera["source"] and "127.0.0.1" in camera["source"]


@pytest.mark.asyncio
async def test_unreachable_camera_reconnects_without_hurting_others(
    serve: Callable[..., LiveServer], carphone_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(rtsp=RTSP)
    dead = f"rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/nothing"
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        camera = (await http.post("/api/streams", json={"url": dead, "name": "gone"})).json()
        failing = await wait_message(ws, _status(camera["id"], "reconnecting"), seen)
        upload = await http.post("/api/uploads?name=face.mp4", content=carphone_bytes)
        assert upload.status_code == 201, upload.text
        await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == upload.json()["id"], seen)
        await wait_message(ws, _status(upload.json()["id"], "stopped"), seen)
        health = (await http.get("/api/health")).json()
        listed = {s["id"]: s for s in (await http.get("/api/streams")).json()["streams"]}
    assert failing["stream"]["error"]
    assert SECRET not in str(failing) and SECRET not in str(listed)
    assert listed[camera["id"]]["status"] == "reconnecting"
    assert "retrying in" in caplog.text and "rtsp://***@127.0.0.1" in caplog.text
    assert SECRET not in caplog.text  # nor in the logs
    assert listed[upload.json()["id"]]["error"] is None
    assert health["status"] == "ok"


@pytest.mark.asyncio
async def test_frozen_camera_is_stalled_then_recovers(
    serve: Callable[..., LiveServer], rtsp_server: RtspServer
) -> None:
    """A server that stops sending (SIGSTOP) keeps the TCP connection open: only the stall check sees it."""
    server = serve(rtsp=RTSP)
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        stream_id = (await http.post("/api/streams", json={"url": rtsp_server.url})).json()["id"]
        await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)
        assert rtsp_server.process is not None
        rtsp_server.process.send_signal(signal.SIGSTOP)
        try:
            stalled = await wait_message(ws, _status(stream_id, "stalled"), seen)
            await wait_message(ws, _status(stream_id, "reconnecting"), seen)  # the read timeout fired
        finally:
            rtsp_server.process.send_signal(signal.SIGCONT)
        await wait_message(ws, _status(stream_id, "live"), seen)
    assert "no frame for" in stalled["stream"]["error"]


@pytest.mark.asyncio
async def test_camera_with_oversized_picture_is_refused(
    serve: Callable[..., LiveServer], rtsp_server: RtspServer
) -> None:
    server = serve(rtsp={**RTSP, "max_pixels": 64 * 64})  # the clip is 176x144
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        stream_id = (await http.post("/api/streams", json={"url": rtsp_server.url})).json()["id"]
        refused = await wait_message(ws, _status(stream_id, "reconnecting"), seen)
    assert "176x144 is larger than rtsp.max_pixels" in refused["stream"]["error"]
    assert not [m for m in seen if m["type"] == "score"]
