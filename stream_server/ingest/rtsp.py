"""RTSP cameras: PyAV pulls the stream in a worker thread and reconnects with capped exponential backoff.

Only rtsp:// and rtsps:// URLs are accepted, and FFmpeg's protocol whitelist allows nothing but the
RTSP transports, so `file:`, `concat:`, `subfile:`, `pipe:` or `http:` fail inside FFmpeg even when a
server tries to redirect to them. Credentials in the URL are masked everywhere they could be shown.

Timing: `open_timeout_s` bounds connecting, `read_timeout_s` bounds each blocking read (PyAV raises
when it fires, and we reconnect). While the reader is blocked it cannot report anything, so `poll`
(called by the hub twice a second) marks the stream `stalled` after `stall_s` without a frame.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import av.error

from detector.config import RtspConfig
from detector.frames import (
    RTSP_PROTOCOLS,
    RTSP_SCHEMES,
    OpenOptions,
    RateGate,
    Source,
    SourceError,
    SourceKind,
    open_container,
    resolve_source,
    to_frame,
)
from stream_server.ingest.address import AddressPolicy, preflight
from stream_server.ingest.base import FrameSink, StreamSource
from stream_server.types import StreamKind, StreamStatus

logger = logging.getLogger(__name__)

_USERINFO = re.compile(r"//[^/@\s]*@")

_JOIN_GRACE_S = 2.0


def check_camera(source: Source, config: RtspConfig) -> None:
    """Refuse a camera whose host resolves to an address it may not use (blocking: DNS)."""
    AddressPolicy(config.allow_networks).check(source.location)


def parse_camera_url(text: str) -> Source:
    """Accept only rtsp/rtsps URLs with a host; anything else is a SourceError (a 400 for the API)."""
    text = text.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise SourceError("camera URL must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise SourceError(f"invalid camera URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in RTSP_SCHEMES:
        raise SourceError(f"camera URL must start with rtsp:// or rtsps:// (got '{scheme or text[:10]}')")
    try:
        source = resolve_source(text, RTSP_SCHEMES)
    except ValueError as exc:
        raise SourceError(f"invalid camera URL: {exc}") from exc
    if source.kind is not SourceKind.URL:
        raise SourceError("camera URL must be an rtsp:// or rtsps:// URL")
    return source


class Backoff:
    """Waits between reconnection attempts: initial, ×factor each failure, capped; reset once live."""

    def __init__(self, config: RtspConfig) -> None:
        self._config = config
        self._next = config.backoff_initial_s

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self._config.backoff_factor, self._config.backoff_max_s)
        return delay

    def reset(self) -> None:
        self._next = self._config.backoff_initial_s


class _Stalled(Exception):
    """Packets arrive but no picture decodes."""


class RtspSource(StreamSource):
    """One camera, read in its own thread for as long as the stream exists."""

    kind = StreamKind.RTSP

    def __init__(
        self,
        source: Source,
        config: RtspConfig,
        fps: float,
        clock: Callable[[], float] = time.monotonic,
        policy: AddressPolicy | None = None,
    ) -> None:
        self._source = source
        self._config = config
        self._policy = policy or AddressPolicy(config.allow_networks)
        self._pinned = source.location
        self._fps = fps
        self._clock = clock
        self._stop = threading.Event()
        self._backoff = Backoff(config)
        self._sink: FrameSink | None = None
        self._thread: threading.Thread | None = None
        self._live = False
        self._opening_since: float | None = None  # set while connecting, so a silent camera can be seen
        self._last_frame = clock()
        self._t0 = clock()
        self._index = 0

    @property
    def display(self) -> str:
        return self._source.display

    def start(self, sink: FrameSink) -> None:
        self._sink = sink
        self._thread = threading.Thread(target=self._run, args=(sink,), name=f"rtsp-{sink.stream_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            # A read blocked in FFmpeg returns within read_timeout_s; do not wait longer than that.
            await asyncio.to_thread(thread.join, self._config.read_timeout_s + _JOIN_GRACE_S)

    def poll(self, now: float) -> None:
        if self._sink is None:
            return
        opening = self._opening_since
        # Connecting is bounded by open_timeout_s, but a camera that accepts and then says nothing should
        # show as stalled no later than a silent live stream would (and within read_timeout_s).
        patience = min(self._config.stall_s, self._config.read_timeout_s)
        if opening is not None and now - opening > patience:
            self._sink.set_status(StreamStatus.STALLED, f"no answer for {now - opening:.0f} s")
        elif self._live and now - self._last_frame > self._config.stall_s:
            self._sink.set_status(StreamStatus.STALLED, f"no frame for {now - self._last_frame:.0f} s")

    def _run(self, sink: FrameSink) -> None:
        error: str | None = None
        first = True
        while not self._stop.is_set():
            sink.set_status(StreamStatus.CONNECTING if first else StreamStatus.RECONNECTING, error)
            first = False
            error = self._attempt(sink)
            if self._stop.is_set():
                break
            delay = self._backoff.next()
            logger.info("camera %s: %s; retrying in %.0f s", self.display, error, delay)
            sink.set_status(StreamStatus.RECONNECTING, error)
            self._stop.wait(delay)
        sink.end(None)

    def _attempt(self, sink: FrameSink) -> str:
        """One connection, read until it fails; returns why it ended (already masked)."""
        self._live = False
        config = self._config
        self._opening_since = self._clock()
        try:
            # Resolved and checked on every attempt: the connection goes to the address just checked.
            with ExitStack() as preflight_connection:  # held open until FFmpeg has connected
                checked = preflight(self._policy, self._source.location, config.open_timeout_s, preflight_connection)
                self._pinned = checked.url
                options = OpenOptions(config.open_timeout_s, config.read_timeout_s, RTSP_PROTOCOLS, config.max_pixels)
                container = open_container(Source(SourceKind.URL, checked.url), options)
        except SourceError as exc:
            return self._scrub(str(exc))
        finally:
            self._opening_since = None
        try:
            self._read(container, sink)
            return "stream ended"
        except _Stalled:
            return f"no picture decoded for {self._config.stall_s:.0f} s"
        except SourceError as exc:
            return self._scrub(str(exc))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            return self._scrub(f"read failed: {getattr(exc, 'strerror', None) or exc}")
        finally:
            self._live = False
            container.close()

    def _read(self, container: Any, sink: FrameSink) -> None:
        stream = container.streams.video[0]
        self._check_size(stream.codec_context)  # the size the SDP/probe announced, before any decoding
        stream.thread_type = "AUTO"
        gate = RateGate(self._fps)
        offset = self._clock() - self._t0  # stream time keeps running across reconnections
        first_pts: int | None = None
        self._last_frame = self._clock()
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            for av_frame in packet.decode():
                first_pts = av_frame.pts if first_pts is None else first_pts
                self._on_frame(sink, gate, av_frame, offset, first_pts)
            if self._clock() - self._last_frame > self._config.stall_s:
                raise _Stalled

    def _on_frame(self, sink: FrameSink, gate: RateGate, av_frame: Any, offset: float, first_pts: int | None) -> None:
        self._last_frame = self._clock()
        if not self._live:
            self._check_size(av_frame)
            self._live = True
            self._backoff.reset()
        sink.set_status(StreamStatus.LIVE, None)  # cheap when unchanged; also ends a `stalled`
        tb = av_frame.time_base
        if av_frame.pts is None or tb is None or first_pts is None:
            t = self._last_frame - self._t0
        else:
            t = offset + float((av_frame.pts - first_pts) * tb)
        self._index += 1
        if gate.take(t):
            sink.put(to_frame(sink.stream_id, av_frame, t, self._index))

    def _check_size(self, picture: Any) -> None:
        """FFmpeg would decode any size a camera claims; refuse pictures that would eat the memory.

        Checked on the size announced at open and on the first frame; FFmpeg's own max_pixels (set at
        open) refuses a larger picture that turns up later, before it is allocated."""
        if picture.width * picture.height > self._config.max_pixels:
            raise SourceError(
                f"picture {picture.width}x{picture.height} is larger than rtsp.max_pixels ({self._config.max_pixels})"
            )

    def _scrub(self, text: str) -> str:
        """FFmpeg messages may quote the URL: never let its credentials through."""
        text = text.replace(self._pinned, self._source.display).replace(self._source.location, self._source.display)
        return " ".join(_USERINFO.sub("//***@", text).split())
