"""Decoding with PyAV in a worker thread, keeping pts/time_base, at an analysis rate chosen by timestamp.

Only local files and rtsp/rtsps/http/https URLs are accepted. FFmpeg's `protocol_whitelist` is set on
every open so that `file:`, `concat:`, `subfile:`, `pipe:` and friends fail inside FFmpeg as well,
even when reached indirectly (a playlist that points at a local file, say).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av
import av.error
import numpy as np

from detector.types import Frame

logger = logging.getLogger(__name__)

URL_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
RTSP_SCHEMES = frozenset({"rtsp", "rtsps"})
_FILE_PROTOCOLS = "file"
_URL_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy,crypto"
# Cameras: no http/https either, so an RTSP server cannot bounce FFmpeg to a web or local resource.
RTSP_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls,crypto"
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


class SourceError(ValueError):
    """The input cannot be read as video; the message is one line, fit for a user."""


class SourceKind(StrEnum):
    FILE = "file"
    URL = "url"


@dataclass(frozen=True)
class Source:
    """A validated input: an existing local file or a network URL."""

    kind: SourceKind
    location: str  # absolute path or URL

    @property
    def display(self) -> str:
        """The location with any credentials masked, safe for logs and output."""
        return mask_credentials(self.location) if self.kind is SourceKind.URL else self.location


def mask_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_source(text: str, schemes: frozenset[str] = URL_SCHEMES) -> Source:
    """Accept a local video file path or a URL with an allowed scheme; refuse everything else."""
    match = _SCHEME.match(text)
    if match and len(match.group(1)) > 1:  # one letter would be a Windows drive
        scheme = match.group(1).lower()
        if scheme not in schemes:
            raise SourceError(f"unsupported input protocol '{scheme}:' (allowed: {', '.join(sorted(schemes))})")
        if not urlsplit(text).hostname:
            raise SourceError(f"URL has no host: {mask_credentials(text)}")
        return Source(SourceKind.URL, text)
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"no such file: {text}")
    if not path.is_file():
        raise SourceError(f"not a regular file: {text}")
    if path.stat().st_size == 0:
        raise SourceError(f"empty file: {text}")
    return Source(SourceKind.FILE, str(path.resolve()))


@dataclass(frozen=True)
class OpenOptions:
    """How long to wait for a source to open and for each read (seconds)."""

    open_timeout: float = 10.0
    read_timeout: float = 10.0
    protocols: str | None = None  # FFmpeg protocol_whitelist; None picks the default for the source kind
    max_pixels: int | None = None  # FFmpeg's max_pixels for the video decoder (its own default is INT_MAX)


def open_container(source: Source, options: OpenOptions = OpenOptions()) -> Any:
    """av.open with the protocol whitelist and timeouts; failures become one-line SourceErrors."""
    if source.kind is SourceKind.FILE:
        shortfall = iso_bmff_shortfall(Path(source.location))
        if shortfall:
            raise SourceError(f"cannot open {source.display}: file is truncated ({shortfall})")
    default = _FILE_PROTOCOLS if source.kind is SourceKind.FILE else _URL_PROTOCOLS
    av_options = {"protocol_whitelist": options.protocols or default}
    if source.location.startswith(("rtsp:", "rtsps:")):
        av_options["rtsp_transport"] = "tcp"
    try:
        container = av.open(
            source.location, mode="r", options=av_options, timeout=(options.open_timeout, options.read_timeout)
        )
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(f"cannot open {source.display}: {_reason(exc)}") from exc
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {source.display}")
    if options.max_pixels is not None:
        # Applied when the decoder opens (first decode): a picture above it fails inside FFmpeg before
        # any buffer is allocated, even when the size changes mid-stream.
        container.streams.video[0].codec_context.options = {"max_pixels": str(options.max_pixels)}
    return container


_BOX = struct.Struct(">I4s")
_BOX_TYPES = frozenset({b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"})


def iso_bmff_shortfall(path: Path) -> str | None:
    """For an MP4/MOV/3GP file, what its top-level boxes say is missing from its end; None if complete.

    FFmpeg stops quietly where a cut-off `mdat` ends (and, when the index comes first, the file still
    opens and decodes up to the cut), so a broken upload would pass as a shorter video. Every top-level
    box declares its own length, so comparing their sum with the file size finds a cut anywhere. Files
    of other formats, and boxes this walk does not understand, are left to FFmpeg.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                return f"a box header is cut off at byte {offset}" if offset else None
            length, kind = _BOX.unpack_from(header)
            if offset == 0 and kind not in _BOX_TYPES:
                return None  # not an ISO base media file
            if not all(32 <= c < 127 or c == 0xA9 for c in kind):
                return None  # trailing bytes that are not a box (some writers leave junk): FFmpeg ignores them too
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                return None  # the last box runs to the end of the file by definition
            if length < 8:
                return None
            offset += length
    return f"{offset - size} bytes missing" if offset > size else None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def to_frame(stream_id: str, av_frame: Any, t: float, index: int) -> Frame:
    """A decoded PyAV frame as the analyzer's Frame: BGR, upright, pts and time base kept."""
    tb = av_frame.time_base
    return Frame(
        stream_id=stream_id,
        image=upright(av_frame.to_ndarray(format="bgr24"), getattr(av_frame, "rotation", 0)),
        pts=av_frame.pts,
        time_base=Fraction(tb) if tb is not None else None,
        t=t,
        index=index,
    )


class RateGate:
    """Picks frames for analysis by timestamp: at most `fps` per second of video, never by count."""

    def __init__(self, fps: float) -> None:
        self._interval = 1.0 / fps
        self._next: float | None = None

    def take(self, t: float) -> bool:
        """True when the frame at `t` seconds is due for analysis."""
        due = self._next
        if due is not None and t < due - 2 * self._interval:
            due = None  # time went backwards (pts reset, new segment): restart the grid from here
        if due is not None and t + 1e-6 < due:
            return False
        # Stay on the grid while keeping up; after a jump forward (seek, stall) restart from now.
        self._next = (t if due is None or t - due > self._interval else due) + self._interval
        return True


@dataclass(frozen=True)
class StreamInfo:
    """What is known about a source once opened."""

    width: int
    height: int
    duration: float | None  # seconds; None for live sources
    codec: str


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """The picture as it is meant to be shown: phones store portrait video sideways plus a display
    rotation (counter-clockwise degrees), which FFmpeg's command line applies and PyAV does not.
    A face lying on its side is invisible to the detector."""
    turns = round(rotation / 90) % 4
    return image if turns == 0 else np.ascontiguousarray(np.rot90(image, k=turns))


class FrameReader:
    """Decodes a source in a worker thread and yields the frames picked for analysis.

    Files block the decoder when the consumer is slower (nothing is lost); live sources keep only the
    latest frame and count what they drop, because a live picture that waits is a stale picture.
    """

    def __init__(self, source: Source, stream_id: str, fps: float, options: OpenOptions = OpenOptions()) -> None:
        self.source = source
        self.stream_id = stream_id
        self._container = open_container(source, options)
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        self._gate = RateGate(fps)
        self._live = source.kind is SourceKind.URL
        self._queue: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self.dropped = 0
        self.decoded = 0
        self.info = StreamInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=self._duration(),
            codec=stream.codec_context.name,
        )
        self._thread = threading.Thread(target=self._run, name=f"decode-{stream_id}", daemon=True)

    def _duration(self) -> float | None:
        if self._live:
            return None
        if self._stream.duration is not None and self._stream.time_base is not None:
            return float(self._stream.duration * self._stream.time_base)
        if self._container.duration is not None:
            return self._container.duration / av.time_base
        return None

    def __iter__(self) -> Iterator[Frame]:
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while not self._queue.empty():  # unblock a decoder waiting on a full queue
            self._queue.get_nowait()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._container.close()
        # A stopped decoder puts nothing more: end the iteration of a consumer (maybe another thread)
        # that is waiting for the next frame, instead of leaving it blocked for ever.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def _run(self) -> None:
        try:
            self._decode()
            self._put(None)
        except SourceError as exc:
            self._put(exc)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._put(SourceError(f"cannot decode {self.source.display}: {_reason(exc)}"))
        except BaseException as exc:  # hand anything else to the consumer rather than dying silently
            self._put(exc)

    def _decode(self) -> None:
        start: int | None = None
        damaged = 0
        for packet in self._container.demux(self._stream):
            # A short read (a file cut inside a packet) comes back flagged corrupt; the threaded decoder
            # would swallow the error it causes, so count it here.
            damaged += bool(packet.size and packet.is_corrupt)
            for av_frame in packet.decode():
                if self._stop.is_set():
                    return
                index = self.decoded
                self.decoded += 1
                t = self._seconds(av_frame, start, index)
                if start is None and av_frame.pts is not None:
                    start = av_frame.pts
                    t = 0.0
                if self._gate.take(t):
                    self._put(to_frame(self.stream_id, av_frame, t, index))
        if damaged and not self._live:
            raise SourceError(f"cannot decode {self.source.display}: file is corrupt ({damaged} damaged packets)")

    def _seconds(self, av_frame: Any, start: int | None, index: int) -> float:
        tb = av_frame.time_base
        if av_frame.pts is None or tb is None:
            rate = self._stream.average_rate or 30
            return index / float(rate)
        return float((av_frame.pts - (start if start is not None else av_frame.pts)) * tb)

    def _put(self, item: Frame | BaseException | None) -> None:
        if not self._live or not isinstance(item, Frame):
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # Latest frame wins: drop the oldest queued frame and count it.
            try:
                self._queue.get_nowait()
                self.dropped += 1
            except queue.Empty:
                pass
            self._queue.put_nowait(item)
