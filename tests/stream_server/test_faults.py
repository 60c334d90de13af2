"""Fault injection with figures (docs/RELIABILITY.md): short versions run in CI, the long ones with `-m long`.

- a camera whose RTSP server is killed again and again comes back by itself every time;
- a camera that accepts the connection and sends nothing is `stalled` within read_timeout_s + 1 s;
- mutated SDP offers are all 4xx, and answering them does not grow resident memory;
- corrupted and truncated uploads are all 422 and the server never falls over;
- a soak with 4 live streams and 2 dashboards keeps memory, open files and threads flat.

Each test prints one `FIGURE ...` line (run with `-s`) that RELIABILITY.md quotes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from stream_server.app import create_app
from stream_server.ingest.replay import ReplaySource
from tests.fuzz.conftest import CORPUS
from tests.stream_server.conftest import LiveServer, RtspServer, make_config, wait_message
from tests.stream_server.test_rtsp import RTSP, _status

LONG = [pytest.mark.slow, pytest.mark.long]


def rss_mb() -> float:
    """Resident memory of this process (the server runs in it), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def thread_count() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def figure(name: str, **values: Any) -> None:
    print(f"FIGURE {name} " + " ".join(f"{k}={v}" for k, v in values.items()), flush=True)


# --- RTSP source killed N times ------------------------------------------------------------------------


async def _kill_and_resume(serve: Callable[..., LiveServer], rtsp_server: RtspServer, kills: int) -> None:
    server = serve(rtsp=RTSP)
    seen: list[dict[str, Any]] = []
    resumed, delays = 0, []
    async with connect(server.ws_url, max_size=None) as ws, httpx.AsyncClient(base_url=server.url) as http:
        stream_id = (await http.post("/api/streams", json={"url": rtsp_server.url})).json()["id"]
        await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)
        for _ in range(kills):
            rtsp_server.kill()
            await wait_message(ws, _status(stream_id, "reconnecting", "stalled"), seen)
            rtsp_server.start()
            back = time.monotonic()
            await wait_message(ws, _status(stream_id, "live"), seen, guard_s=30)
            await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen, guard_s=30)
            delays.append(time.monotonic() - back)
            resumed += 1
            seen.clear()
    figure("rtsp_kill", kills=kills, resumed=resumed, worst_resume_s=round(max(delays), 1))
    assert resumed == kills


@pytest.mark.integration
@pytest.mark.asyncio
async def test_camera_resumes_after_each_of_3_kills(serve: Callable[..., LiveServer], rtsp_server: RtspServer) -> None:
    await _kill_and_resume(serve, rtsp_server, 3)


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.long
async def test_camera_resumes_after_each_of_10_kills(serve: Callable[..., LiveServer], rtsp_server: RtspServer) -> None:
    await _kill_and_resume(serve, rtsp_server, 10)


# --- a silent camera -----------------------------------------------------------------------------------


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A plain TCP listener that accepts connections and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    held: list[socket.socket] = []
    done = threading.Event()

    def run() -> None:
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.asyncio
async def test_silent_camera_is_stalled_within_read_timeout(
    serve: Callable[..., LiveServer], silent_listener: int
) -> None:
    rtsp = {**RTSP, "open_timeout_s": 5, "read_timeout_s": 3, "stall_s": 5}
    server = serve(rtsp=rtsp)
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        added = time.monotonic()
        reply = await http.post("/api/streams", json={"url": f"rtsp://127.0.0.1:{silent_listener}/x"})
        assert reply.status_code == 201, reply.text
        stalled = await wait_message(ws, _status(reply.json()["id"], "stalled"), seen, guard_s=20)
        elapsed = time.monotonic() - added
    figure("silent_camera", read_timeout_s=rtsp["read_timeout_s"], stalled_after_s=round(elapsed, 2))
    assert elapsed <= rtsp["read_timeout_s"] + 1
    assert "no answer for" in stalled["stream"]["error"]


# --- mutated SDP offers --------------------------------------------------------------------------------

_REQUIRED = ("v=", "m=video", "c=", "a=fingerprint", "a=ice-ufrag", "a=ice-pwd")


def mutated_offer(rng: random.Random, real: str) -> str:
    """The real offer with a required line dropped or replaced by junk, plus random damage elsewhere."""
    lines = real.split("\r\n")
    prefix = rng.choice(_REQUIRED)
    drop = rng.random() < 0.5
    for i, line in enumerate(lines):  # every such line: aiortc writes three fingerprints, for one
        if line.startswith(prefix):
            junk = "".join(rng.choice("abcxyz0189:;/ =-\t\x01é") for _ in range(rng.randint(0, 40)))
            lines[i] = "" if drop else line[:2] + junk
    for _ in range(rng.randint(0, 4)):
        j = rng.randrange(len(lines))
        action = rng.choice(["drop", "dup", "cut", "swap"])
        if action == "drop" and len(lines) > 1:
            lines.pop(j)
        elif action == "dup":
            lines.insert(j, lines[j])
        elif action == "cut":
            lines[j] = lines[j][: rng.randint(0, len(lines[j]))]
        else:
            k = rng.randrange(len(lines))
            lines[j], lines[k] = lines[k], lines[j]
    return "\r\n".join(lines)


def _offers_stay_4xx_and_flat(analyzer: Analyzer, tmp_path: Path, count: int) -> None:
    real = (CORPUS / "sdp" / "aiortc-video.sdp").read_bytes().decode()
    rng = random.Random(7)
    with TestClient(create_app(make_config(tmp_path), analyzer, environ={}), raise_server_exceptions=False) as client:

        def post(i: int) -> int:
            sdp = mutated_offer(rng, real)
            body = json.dumps({"sdp": sdp, "type": "offer", "name": f"m{i}"})
            reply = client.post("/api/webrtc/offer", content=body, headers={"content-type": "application/json"})
            return reply.status_code

        for i in range(30):  # warm-up: imports, caches and first allocations are not growth
            assert 400 <= post(i) < 500
        gc.collect()
        before = rss_mb()
        statuses = [post(i) for i in range(count)]
        gc.collect()
        growth = rss_mb() - before
        streams = client.get("/api/streams").json()["streams"]
    bad = [s for s in statuses if not 400 <= s < 500]
    figure("sdp_mutations", offers=count, non_4xx=len(bad), rss_growth_mb=round(growth, 1))
    assert not bad
    assert growth < 20
    assert streams == []


def test_200_mutated_offers_are_4xx_without_memory_growth(analyzer: Analyzer, tmp_path: Path) -> None:
    _offers_stay_4xx_and_flat(analyzer, tmp_path, 200)


@pytest.mark.slow
@pytest.mark.long
def test_1000_mutated_offers_are_4xx_without_memory_growth(analyzer: Analyzer, tmp_path: Path) -> None:
    _offers_stay_4xx_and_flat(analyzer, tmp_path, 1000)


# --- corrupted and truncated uploads -------------------------------------------------------------------


def corrupted(rng: random.Random, clip: bytes) -> bytes:
    kind = rng.choice(["truncate", "truncate", "mangle_head", "junk", "head_then_junk"])
    if kind == "truncate":
        return clip[: rng.randint(1, len(clip) - 1)]
    if kind == "mangle_head":
        cut = rng.randint(8, 4096)
        return bytes(rng.getrandbits(8) for _ in range(cut)) + clip[cut:]
    if kind == "junk":
        return rng.randbytes(rng.randint(1, 64 * 1024))
    return clip[: rng.randint(8, 256)] + rng.randbytes(rng.randint(1, 16 * 1024))


def _uploads_are_422(analyzer: Analyzer, tmp_path: Path, clip: bytes, count: int) -> None:
    rng = random.Random(11)
    with TestClient(create_app(make_config(tmp_path), analyzer, environ={}), raise_server_exceptions=False) as client:
        statuses = [
            client.post("/api/uploads?name=bad.mp4", content=corrupted(rng, clip)).status_code for _ in range(count)
        ]
        health = client.get("/api/health").json()
    wrong = [s for s in statuses if s != 422]
    figure("corrupt_uploads", uploads=count, non_422=len(wrong), server_errors=sum(s >= 500 for s in statuses))
    assert not wrong, wrong
    assert health["status"] == "ok"
    assert list((tmp_path / "uploads").iterdir()) == []


def test_30_corrupted_uploads_are_422(analyzer: Analyzer, tmp_path: Path, carphone_bytes: bytes) -> None:
    _uploads_are_422(analyzer, tmp_path, carphone_bytes, 30)


@pytest.mark.slow
@pytest.mark.long
def test_200_corrupted_uploads_are_422(analyzer: Analyzer, tmp_path: Path, carphone_bytes: bytes) -> None:
    _uploads_are_422(analyzer, tmp_path, carphone_bytes, 200)


# --- soak ----------------------------------------------------------------------------------------------


async def _dashboard(url: str, stop: asyncio.Event, counts: list[int]) -> None:
    async with connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 1)
                counts[0] += 1
            except TimeoutError:
                continue


async def _soak(serve: Callable[..., LiveServer], face_loop: Path, seconds: float) -> None:
    server = serve()
    hub = server.app.state.ctx.hub
    loop = hub._loop  # the server's event loop (it runs in another thread)

    async def add(i: int) -> str:
        return hub.add(ReplaySource(face_loop, 15.0, seconds + 30), f"soak-{i}")

    stop, counts = asyncio.Event(), [0]
    dashboards = [asyncio.create_task(_dashboard(server.ws_url, stop, counts)) for _ in range(2)]
    ids = [await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(add(i), loop)) for i in range(4)]
    await asyncio.sleep(min(10.0, seconds / 3))  # warm-up: decoders, ONNX arenas and buffers reach size
    gc.collect()
    samples = [(rss_mb(), open_files(), thread_count())]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(min(5.0, seconds / 6))
        samples.append((rss_mb(), open_files(), thread_count()))
    async with httpx.AsyncClient(base_url=server.url) as http:
        streams = {s["id"]: s for s in (await http.get("/api/streams")).json()["streams"]}
    stop.set()
    await asyncio.gather(*dashboards)
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    analyzed = sum(streams[i]["analyzed"] for i in ids)
    figure(
        "soak",
        seconds=seconds,
        streams=4,
        dashboards=2,
        rss_mb=f"{first[0]:.0f}->{last[0]:.0f}",
        rss_max_mb=round(max(s[0] for s in samples)),
        rss_second_half_mb=f"{middle[0]:.0f}->{last[0]:.0f}",
        rss_curve_mb=",".join(f"{s[0]:.0f}" for s in samples[:: max(1, len(samples) // 12)]),
        fds=f"{first[1]}->{last[1]}",
        threads=f"{first[2]}->{last[2]}",
        frames_analyzed=analyzed,
        ws_messages=counts[0],
    )
    assert all(streams[i]["status"] == "live" for i in ids)
    assert analyzed > 0 and counts[0] > 0
    assert last[0] - first[0] < 30  # MB; a leak of one frame per analyzed frame would be gigabytes
    assert last[0] - middle[0] < 15  # and the second half is flatter still: growth has levelled off
    assert last[1] - first[1] <= 2  # growth only: worker pools may shrink after the warm-up
    assert last[2] - first[2] <= 2


@pytest.mark.asyncio
async def test_soak_30_s_four_streams_two_dashboards(serve: Callable[..., LiveServer], face_loop: Path) -> None:
    await _soak(serve, face_loop, 30)


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.long
async def test_soak_10_min_four_streams_two_dashboards(serve: Callable[..., LiveServer], face_loop: Path) -> None:
    await _soak(serve, face_loop, 600)
