"""WebRTC ingest: a real in-process aiortc peer sends a face clip; scores arrive on /ws and in the timeline."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame
from websockets.asyncio.client import connect

from detector.config import WebRtcConfig
from stream_server.ingest.webrtc import WebRtcSource
from tests.stream_server.conftest import LiveServer, wait_message

VIDEO_CLOCK = 90_000


class ClipTrack(VideoStreamTrack):
    """The face clip as a video track, looped, with pts at 30 fps.

    It does not pace itself to real time (aiortc's own test tracks sleep): it only yields to the
    event loop between frames so the encoder, the network and the server share it.
    """

    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__()
        self._frames = itertools.cycle(frames)
        self._index = 0

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(0.005)
        frame = VideoFrame.from_ndarray(next(self._frames), format="bgr24")
        frame.pts = self._index * VIDEO_CLOCK // 30
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame


async def call(server: LiveServer, frames: list[np.ndarray], name: str) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ClipTrack(frames))
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post(
            "/api/webrtc/offer", json={"sdp": pc.localDescription.sdp, "type": "offer", "name": name}
        )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
    return pc, body["stream"]


@pytest.mark.asyncio
async def test_call_scores_arrive_on_ws_and_in_timeline(
    serve: Callable[..., LiveServer], face_frames: list[np.ndarray]
) -> None:
    server = serve()
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws:
        hello = await wait_message(ws, lambda m: m["type"] == "hello", seen)
        assert hello["v"] == 2 and "model_trained" in hello
        pc, stream_id = await call(server, face_frames, "caller")
        try:
            await wait_message(ws, lambda m: m["type"] == "status" and m["stream"]["status"] == "live", seen)
            for _ in range(5):
                last = await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)
            async with httpx.AsyncClient(base_url=server.url) as http:
                listed = (await http.get("/api/streams")).json()["streams"]
                snapshot = await http.get(f"/api/streams/{stream_id}/snapshot.jpg")
                thumbnail = await http.get(f"/api/streams/{stream_id}/faces/{last['track']}.jpg")
        finally:
            await pc.close()
        stopped = await wait_message(
            ws,
            lambda m: m["type"] == "status" and m["stream"]["id"] == stream_id and m["stream"]["status"] == "stopped",
            seen,
        )
    assert stopped["stream"]["kind"] == "webrtc"
    [live] = listed
    assert live["id"] == stream_id and live["status"] == "live" and live["name"] == "caller"
    assert live["analyzed"] >= 5 and live["faces"] and {"dropped", "fps", "queued"} <= live.keys()
    assert snapshot.headers["content-type"] == "image/jpeg" and snapshot.content[:2] == b"\xff\xd8"
    assert thumbnail.headers["content-type"] == "image/jpeg" and thumbnail.content[:2] == b"\xff\xd8"
    scores = [m for m in seen if m["type"] == "score" and m["stream"] == stream_id]
    assert {"track", "t", "prob", "rolling", "state", "box"} <= scores[0].keys()

    assert server.app.state.ctx.store.flush()
    async with httpx.AsyncClient(base_url=server.url) as http:
        timeline = (await http.get(f"/api/streams/{stream_id}/timeline")).json()
    stored = {(p["track"], round(p["t"], 3)) for p in timeline["points"]}
    assert {(m["track"], m["t"]) for m in scores} <= stored


@pytest.mark.asyncio
async def test_only_latest_frames_are_analyzed(serve: Callable[..., LiveServer], face_frames: list[np.ndarray]) -> None:
    """A call sending faster than analysis is decimated by pts (analysis.fps), then by the latest-wins queue."""
    server = serve(analysis={"fps": 5})
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws:
        pc, stream_id = await call(server, face_frames, "fast")
        try:
            first = await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream_id, seen)
            second = await wait_message(
                ws, lambda m: m["type"] == "score" and m["stream"] == stream_id and m["t"] > first["t"], seen
            )
        finally:
            await pc.close()
    assert second["t"] - first["t"] >= 0.2 - 1e-3  # at most 5 analyzed frames per second of video


@pytest.mark.asyncio
async def test_hanging_close_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """RTCPeerConnection.close() can hang; stopping a call must not."""
    never = asyncio.Event()

    async def hang(self: RTCPeerConnection) -> None:
        await never.wait()

    monkeypatch.setattr(RTCPeerConnection, "close", hang)
    source = WebRtcSource(WebRtcConfig(close_timeout_s=0.05), fps=15, peer="test")
    await asyncio.wait_for(source.stop(), 10)  # the guard is generous; the bound is close_timeout_s


@pytest.mark.asyncio
async def test_call_with_oversized_picture_is_ended(
    serve: Callable[..., LiveServer], face_frames: list[np.ndarray]
) -> None:
    server = serve(webrtc={"max_pixels": 64 * 64})  # the clip is 176x144
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws:
        pc, stream_id = await call(server, face_frames, "big")
        try:
            stopped = await wait_message(
                ws,
                lambda m: (
                    m["type"] == "status" and m["stream"]["id"] == stream_id and m["stream"]["status"] == "stopped"
                ),
                seen,
            )
        finally:
            await pc.close()
    assert "larger than webrtc.max_pixels" in stopped["stream"]["error"]
    assert not [m for m in seen if m["type"] == "score" and m["stream"] == stream_id]


@pytest.mark.asyncio
async def test_calls_beyond_max_peers_are_503(serve: Callable[..., LiveServer], face_frames: list[np.ndarray]) -> None:
    server = serve(webrtc={"max_peers": 1})
    first, _ = await call(server, face_frames, "one")
    second = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    second.addTrack(ClipTrack(face_frames))
    try:
        await second.setLocalDescription(await second.createOffer())
        async with httpx.AsyncClient(base_url=server.url) as http:
            reply = await http.post("/api/webrtc/offer", json={"sdp": second.localDescription.sdp, "type": "offer"})
    finally:
        await asyncio.gather(first.close(), second.close())
    assert reply.status_code == 503 and "webrtc" in reply.json()["error"].lower()
