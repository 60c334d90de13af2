"""Bad input is a 4xx with a message, never a 500: offers, camera URLs, uploads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from starlette.testclient import TestClient

from detector.frames import RTSP_PROTOCOLS, OpenOptions, Source, SourceError, SourceKind, open_container
from detector.pipeline import Analyzer
from stream_server.app import create_app
from tests.stream_server.conftest import make_config


async def _offer(kind: str) -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(kind, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


@pytest.fixture(scope="module")
def offers() -> dict[str, str]:
    """Real offers from aiortc, to mutate into malformed ones."""
    return {"video": asyncio.run(_offer("video")), "audio": asyncio.run(_offer("audio"))}


@pytest.fixture
def client(analyzer: Analyzer, tmp_path: Path) -> Iterator[TestClient]:
    config = make_config(tmp_path, server={"upload_max_bytes": 2_000_000})
    with TestClient(create_app(config, analyzer), raise_server_exceptions=False) as test_client:
        yield test_client


def _mutations(video: str, audio: str) -> dict[str, str]:
    lines = video.split("\r\n")

    def without(prefix: str) -> str:
        return "\r\n".join(line for line in lines if not line.startswith(prefix))

    def replace(prefix: str, new: str) -> str:
        return "\r\n".join(new if line.startswith(prefix) else line for line in lines)

    return {
        "words": "hello world",
        "only version": "v=0\r\n",
        "truncated": video[: len(video) // 3],
        "bad m-line port": replace("m=video", "m=video abc UDP/TLS/RTP/SAVPF 96"),
        "m-line without formats": replace("m=video", "m=video"),
        "junk rtpmap": replace("a=rtpmap", "a=rtpmap:xx"),
        "junk candidate": replace("a=candidate", "a=candidate:1 1 udp notanumber 1.2.3.4 x typ host"),
        "junk fingerprint": replace("a=fingerprint", "a=fingerprint:sha-256 zz"),
        "no fingerprint": without("a=fingerprint"),
        "no ice credentials": without("a=ice-"),
        "junk ssrc": replace("a=ssrc:", "a=ssrc:abc cname:x"),
        "junk extmap": video.replace("a=mid:0", "a=mid:0\r\na=extmap:x"),
        "junk rtcp": video.replace("a=mid:0", "a=mid:0\r\na=rtcp:abc"),
        "bad direction": video.replace("a=sendonly", "a=sideways"),
        "no connection line": without("c="),
        "audio only": audio,
        "nul byte": video.replace("v=0", "v=0\x00"),
    }


def test_malformed_offers_are_4xx(client: TestClient, offers: dict[str, str]) -> None:
    sdps = _mutations(offers["video"], offers["audio"])
    bodies: dict[str, tuple[bytes, str]] = {
        name: (json.dumps({"sdp": sdp, "type": "offer"}).encode(), "application/json") for name, sdp in sdps.items()
    }
    bodies |= {
        "empty body": (b"", "application/json"),
        "not json": (b"{sdp:", "application/json"),
        "not utf-8": (b"\xff\xfe\x00junk", "application/json"),
        "json list": (b"[1, 2]", "application/json"),
        "no sdp": (b'{"type": "offer"}', "application/json"),
        "sdp not a string": (b'{"sdp": 5, "type": "offer"}', "application/json"),
        "answer not offer": (json.dumps({"sdp": offers["video"], "type": "answer"}).encode(), "application/json"),
        "long name": (
            json.dumps({"sdp": offers["video"], "type": "offer", "name": "x" * 500}).encode(),
            "application/json",
        ),
        "over 128 KiB": (
            json.dumps({"sdp": offers["video"] + "a=x:" + "y" * 140_000, "type": "offer"}).encode(),
            "application/json",
        ),
        "wrong content type": (json.dumps({"sdp": offers["video"], "type": "offer"}).encode(), "text/plain"),
    }
    statuses = {}
    for name, (body, content_type) in bodies.items():
        reply = client.post("/api/webrtc/offer", content=body, headers={"content-type": content_type})
        statuses[name] = reply.status_code
        assert reply.status_code == 201 or reply.json()["error"], name
    accepted = {name: status for name, status in statuses.items() if not 400 <= status < 500}
    assert not accepted
    assert statuses["over 128 KiB"] == 413
    assert statuses["wrong content type"] == 415
    assert client.get("/api/streams").json()["streams"] == []  # no half-made stream was left behind


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "http://127.0.0.1/stream",
        "https://example.com/a.m3u8",
        "concat:/etc/passwd|/etc/hosts",
        "subfile,,start,0,end,0,,:/etc/passwd",
        "pipe:0",
        "rtsp://",
        "rtsp:///path",
        "rtsp://host:99999/x",
        "rtsp://ho st/x",
        "rtsp://host/x\nfile:/etc/passwd",
        # Addresses a camera may not have unless allow-listed (rtsp.allow_networks).
        "rtsp://127.0.0.1/x",
        "rtsp://localhost:8554/x",
        "rtsp://2130706433/x",
        "rtsp://0x7f.1/x",
        "rtsp://[::1]/x",
        "rtsp://[::ffff:127.0.0.1]/x",
        "rtsp://[::ffff:10.0.0.1]/x",
        "rtsp://169.254.169.254/latest",
        "rtsp://10.1.2.3/x",
        "rtsp://192.168.1.20:554/stream1",
        "rtsp://0.0.0.0/x",
        "rtsp://224.0.0.1/x",
        "rtsp://[fe80::1]/x",
        "rtsps://user:pw@100.64.0.1/x",
    ],
)
def test_bad_camera_urls_are_400(client: TestClient, url: str) -> None:
    reply = client.post("/api/streams", json={"url": url, "name": "bad"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]


def test_camera_body_must_be_json_object(client: TestClient) -> None:
    assert client.post("/api/streams", content=b"rtsp://x/y", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/api/streams", json=["rtsp://x/y"]).status_code == 400
    assert client.post("/api/streams", json={"url": 5}).status_code == 400


@pytest.mark.parametrize("url", ["file:///etc/hosts", "http://127.0.0.1:9/", "concat:/etc/hosts|/etc/hosts"])
def test_ffmpeg_refuses_other_protocols_for_cameras(url: str) -> None:
    """Even past URL validation, FFmpeg's whitelist for cameras allows no file, concat or http access."""
    with pytest.raises(SourceError):
        open_container(Source(SourceKind.URL, url), OpenOptions(2, 2, RTSP_PROTOCOLS))


def test_corrupt_upload_is_422(client: TestClient, carphone: Path) -> None:
    clip = carphone.read_bytes()
    corrupt = {
        "text": b"this is not a video\n" * 100,
        "random": bytes(range(256)) * 64,
        "header only": clip[:64],
        "mangled": clip[:32] + bytes(len(clip) - 32),
    }
    for name, body in corrupt.items():
        reply = client.post("/api/uploads?name=bad.mp4", content=body, headers={"content-type": "video/mp4"})
        assert reply.status_code == 422, (name, reply.status_code, reply.text)
        assert "upload-" not in reply.json()["error"]  # the spool path is not the user's business
    assert client.get("/api/streams").json()["streams"] == []


def test_image_upload_is_422(client: TestClient) -> None:
    import cv2
    import numpy as np

    ok, png = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))
    reply = client.post("/api/uploads", content=png.tobytes(), headers={"content-type": "image/png"})
    assert reply.status_code == 422
    assert "not accepted" in reply.json()["error"]


def test_upload_over_the_cap_is_413(client: TestClient) -> None:
    reply = client.post("/api/uploads", content=b"\0" * 2_100_000, headers={"content-type": "video/mp4"})
    assert reply.status_code == 413


def test_unknown_stream_is_404(client: TestClient) -> None:
    for path in (
        "/api/streams/nope",
        "/api/streams/nope/timeline",
        "/api/streams/nope/snapshot.jpg",
        "/api/streams/nope/faces/1.jpg",
    ):
        assert client.get(path).status_code == 404, path
    assert client.delete("/api/streams/nope").status_code == 404
    assert client.get("/api/streams/x/timeline?limit=0").status_code == 400
    assert client.get("/api/events?active=maybe").status_code == 400
