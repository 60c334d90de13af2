"""Uploads: the size cap holds while the body streams in, and a decoder that crashes takes only itself down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from stream_server.app import create_app
from stream_server.ingest.decoder import FAULT_ENV
from tests.stream_server.conftest import LiveServer, make_config, wait_message

CAP = 1_000_000
CHUNK = 64 * 1024


async def _post_endless(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST an endless body to /api/uploads straight through ASGI; (status, bytes the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if sent:  # answered: the client would stop sending
            await asyncio.sleep(3600)
        pulled += CHUNK
        return {"type": "http.request", "body": b"\0" * CHUNK, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/uploads",
        "raw_path": b"/api/uploads",
        "query_string": b"name=big.mp4",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 30)
    return sent[0]["status"], pulled


@pytest.mark.asyncio
async def test_streamed_body_over_the_cap_is_413_before_it_is_all_read(analyzer: Analyzer, tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, server={"upload_max_bytes": CAP}), analyzer)
    status, pulled = await _post_endless(app, [(b"content-type", b"video/mp4")])  # chunked: no length
    assert status == 413
    assert pulled <= CAP + CHUNK
    assert list((tmp_path / "uploads").iterdir()) == []  # the partial spool file is gone


@pytest.mark.asyncio
async def test_multipart_declaring_more_than_the_cap_is_413_unread(analyzer: Analyzer, tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, server={"upload_max_bytes": CAP}), analyzer)
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", str(10 * CAP).encode())]
    status, pulled = await _post_endless(app, headers)
    assert status == 413 and pulled == 0


@pytest.fixture
def client(analyzer: Analyzer, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_config(tmp_path), analyzer), raise_server_exceptions=False) as test_client:
        yield test_client


def test_decoder_crash_while_probing_is_422_and_server_lives(
    client: TestClient, carphone_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "probe")
    reply = client.post("/api/uploads?name=a.mp4", content=carphone_bytes)
    assert reply.status_code == 422, reply.text
    assert "crashed (SIGSEGV)" in reply.json()["error"]
    monkeypatch.delenv(FAULT_ENV)
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.post("/api/uploads?name=b.mp4", content=carphone_bytes).status_code == 201


@pytest.mark.asyncio
async def test_decoder_crash_mid_stream_ends_only_that_stream(
    serve: Callable[..., LiveServer], carphone_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve()
    seen: list[dict[str, Any]] = []
    monkeypatch.setenv(FAULT_ENV, "frame")  # probing passes, the first frame kills the child
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/api/uploads?name=crash.mp4", content=carphone_bytes)
        assert reply.status_code == 201, reply.text
        stream_id = reply.json()["id"]
        stopped = await wait_message(
            ws,
            lambda m: m["type"] == "status" and m["stream"]["id"] == stream_id and m["stream"]["status"] == "stopped",
            seen,
        )
        health = (await http.get("/api/health")).json()
        monkeypatch.delenv(FAULT_ENV)
        again = await http.post("/api/uploads?name=fine.mp4", content=carphone_bytes)
    assert "decoder crashed (SIGSEGV)" in stopped["stream"]["error"]
    assert health["status"] == "ok" and health["inference"]["running"]
    assert again.status_code == 201


def test_upload_over_the_pixel_cap_is_422_before_decoding(
    analyzer: Analyzer, tmp_path: Path, carphone_bytes: bytes
) -> None:
    config = make_config(tmp_path, server={"upload_max_pixels": 64 * 64})  # the clip is 176x144
    with TestClient(create_app(config, analyzer), raise_server_exceptions=False) as client:
        reply = client.post("/api/uploads?name=a.mp4", content=carphone_bytes)
    assert reply.status_code == 422
    assert reply.json()["error"] == "picture 176x144 is larger than 4096 pixels"


def test_ffmpeg_max_pixels_refuses_a_picture_the_header_understated(carphone: Path) -> None:
    """The decoder-level limit: even when the size check is passed, FFmpeg allocates nothing larger."""
    import av.error

    from detector.frames import OpenOptions, resolve_source
    from detector.frames import open_container as open_video

    container = open_video(resolve_source(str(carphone)), OpenOptions(max_pixels=64 * 64))
    try:
        with pytest.raises(av.error.FFmpegError):
            next(iter(container.decode(container.streams.video[0])))
    finally:
        container.close()
