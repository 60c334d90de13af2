"""WebRTC calls: a browser's offer is answered with aiortc and its video track becomes a stream.

Every received track is drained for as long as it lives: aiortc's receive queues are unbounded, so a
track nobody reads grows without limit (aiortc issues #554, #642). Only frames due by the analysis
rate are converted to pictures, and the scheduler's queue keeps only the latest of those. The stream
ends when the peer hangs up or the connection fails; `RTCPeerConnection.close()` can hang, so closing
is bounded by `webrtc.close_timeout_s`.

Offers are untrusted: the body is capped, must be JSON, and the SDP is parsed in a guard because
aiortc's parser raises AssertionError, ValueError, IndexError and others on junk. All of that is a
4xx for the client, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

from detector.config import WebRtcConfig
from detector.frames import RateGate, to_frame
from stream_server.ingest.base import FrameSink, StreamSource
from stream_server.types import StreamKind, StreamStatus

logger = logging.getLogger(__name__)

_MAX_NAME = 100
_FINGERPRINT = re.compile(r"(?:[0-9A-Fa-f]{2}:){15,63}[0-9A-Fa-f]{2}")


class OfferError(ValueError):
    """The offer cannot be answered; `status` is the HTTP status to reply with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Offer:
    sdp: str
    name: str | None


def parse_offer(body: bytes, content_type: str, max_bytes: int) -> Offer:
    """Validate an offer request body: JSON {sdp, type: "offer", name?} with parseable SDP and video."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise OfferError(415, "offer must be sent as application/json")
    if len(body) > max_bytes:
        raise OfferError(413, f"offer is larger than {max_bytes} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OfferError(400, f"offer is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise OfferError(400, "offer must be a JSON object {sdp, type, name?}")
    sdp, kind, name = data.get("sdp"), data.get("type"), data.get("name")
    if kind != "offer":
        raise OfferError(400, "type must be 'offer'")
    if not isinstance(sdp, str) or not sdp.strip() or "\x00" in sdp:
        raise OfferError(400, "sdp must be a non-empty string")
    if name is not None and (not isinstance(name, str) or len(name) > _MAX_NAME):
        raise OfferError(400, f"name must be a string of at most {_MAX_NAME} characters")
    _check_sdp(sdp)
    return Offer(sdp, name)


def _check_sdp(sdp: str) -> None:
    if sdp.split("\n", 1)[0].rstrip("\r") != "v=0":
        raise OfferError(400, "SDP must start with the line v=0")  # RFC 8866 §5; aiortc does not check
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser fails in many ways on junk; all mean "malformed"
        raise OfferError(400, f"malformed SDP ({type(exc).__name__}: {exc})"[:300]) from exc
    if not any(media.kind == "video" for media in parsed.media):
        raise OfferError(400, "offer has no video section")
    # aiortc accepts these gaps and only fails later, inside ICE or DTLS; a client deserves to know now.
    for media in parsed.media:
        if media.host is None:
            raise OfferError(400, f"{media.kind} section has no connection address (c=)")
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise OfferError(400, f"{media.kind} section has no ICE credentials")
        fingerprints = media.dtls.fingerprints if media.dtls is not None else []
        if not fingerprints or not all(_FINGERPRINT.fullmatch(f.value) for f in fingerprints):
            raise OfferError(400, f"{media.kind} section has no valid DTLS fingerprint")


class WebRtcSource(StreamSource):
    """One peer connection: answers the offer, drains its tracks, feeds video frames to the sink."""

    kind = StreamKind.WEBRTC

    def __init__(self, config: WebRtcConfig, fps: float, peer: str) -> None:
        self._config = config
        self._fps = fps
        self._peer = peer
        servers = [RTCIceServer(urls=url) for url in config.ice_servers]
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self._tracks: list[MediaStreamTrack] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sink: FrameSink | None = None
        self._closing = False
        self._pc.on("track", self._tracks.append)

    @property
    def display(self) -> str:
        return f"webrtc peer {self._peer}"

    async def answer(self, offer: Offer) -> RTCSessionDescription:
        """Negotiate; raises OfferError (and releases the connection) when the offer cannot be used."""
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            await self._pc.setLocalDescription(await self._pc.createAnswer())
        except Exception as exc:  # aiortc raises many kinds on offers it cannot use
            await self._close_pc()
            raise OfferError(400, f"cannot answer offer ({type(exc).__name__}: {exc})"[:300]) from exc
        if not any(track.kind == "video" for track in self._tracks):
            await self._close_pc()
            raise OfferError(400, "offer sends no video track")
        return self._pc.localDescription

    def start(self, sink: FrameSink) -> None:
        self._sink = sink
        self._pc.on("connectionstatechange", self._on_state)
        for track in self._tracks:
            self._spawn(self._consume_video(track, sink) if track.kind == "video" else self._drain(track))

    async def stop(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_pc()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected" and self._sink is not None:
            self._sink.set_status(StreamStatus.LIVE)
        elif state in ("failed", "closed") and not self._closing:
            self._finish(None if state == "closed" else "connection failed")

    def _finish(self, error: str | None) -> None:
        """The call is over: end the stream and release the connection in the background."""
        if self._closing:
            return
        self._closing = True
        if self._sink is not None:
            self._sink.end(error)
        self._spawn(self._close_pc())

    async def _close_pc(self) -> None:
        try:
            await asyncio.wait_for(self._pc.close(), self._config.close_timeout_s)
        except TimeoutError:
            logger.warning("closing %s took over %.0f s; abandoned", self.display, self._config.close_timeout_s)
        except Exception:
            logger.exception("closing %s failed", self.display)

    async def _consume_video(self, track: MediaStreamTrack, sink: FrameSink) -> None:
        gate = RateGate(self._fps)
        first_pts: int | None = None
        index = 0
        with contextlib.suppress(MediaStreamError):
            while True:
                av_frame: Any = await track.recv()  # always drained: aiortc queues without bound
                if av_frame.width * av_frame.height > self._config.max_pixels:
                    # aiortc has decoded it already; refusing the call stops it sending more.
                    self._finish(f"picture {av_frame.width}x{av_frame.height} is larger than webrtc.max_pixels")
                    return
                first_pts = av_frame.pts if first_pts is None else first_pts
                t = _seconds(av_frame, first_pts, index)
                index += 1
                if gate.take(t):
                    # Converting only due frames keeps the event loop's share small (~1 ms at 640x480).
                    sink.put(to_frame(sink.stream_id, av_frame, t, index - 1))
        self._finish(None)

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()


def _seconds(av_frame: Any, first_pts: int | None, index: int) -> float:
    if av_frame.pts is None or av_frame.time_base is None or first_pts is None:
        return index / 30.0
    return float((av_frame.pts - first_pts) * av_frame.time_base)
