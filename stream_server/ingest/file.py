"""Uploaded video files, analyzed as a stream as fast as inference allows (not paced to real time).

An upload is probed before it becomes a stream: the container must be on the allow-list, the picture
no larger than `server.upload_max_pixels` (FFmpeg would happily allocate INT_MAX pixels) and the first
frame must decode. Frames then go to the scheduler with `put_wait`: a file has no deadline, so instead
of dropping frames the decoder waits for inference. The spooled file is deleted when the stream ends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av.error

from detector.config import ServerConfig
from detector.frames import FrameReader, OpenOptions, SourceError, SourceKind, open_container, resolve_source
from stream_server.ingest.base import FrameSink, StreamSource
from stream_server.types import StreamKind, StreamStatus

logger = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 10.0


class UploadRejected(ValueError):
    """The upload is not a video we accept; the message says why (a 422 for the API)."""


@dataclass(frozen=True)
class UploadInfo:
    container: str
    codec: str
    width: int
    height: int
    duration: float | None


def probe_upload(path: Path, config: ServerConfig) -> UploadInfo:
    """Check an uploaded file is an allowed, sane, decodable video; raise UploadRejected if not."""
    try:
        source = resolve_source(str(path))
        if source.kind is not SourceKind.FILE:
            raise UploadRejected("not a file")
        container = open_container(source, OpenOptions(_PROBE_TIMEOUT_S, _PROBE_TIMEOUT_S))
    except SourceError as exc:
        raise UploadRejected(f"not a readable video: {_without_path(str(exc), path)}") from exc
    try:
        return _inspect(container, config)
    finally:
        container.close()


def _inspect(container: Any, config: ServerConfig) -> UploadInfo:
    name = container.format.name
    if not set(name.split(",")) & set(config.upload_containers):
        raise UploadRejected(f"container '{name}' is not accepted (allowed: {', '.join(config.upload_containers)})")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > config.upload_max_pixels:
        raise UploadRejected(f"picture {width}x{height} is larger than {config.upload_max_pixels} pixels")
    try:
        first = next(iter(container.decode(stream)), None)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UploadRejected(f"video does not decode: {getattr(exc, 'strerror', None) or exc}") from exc
    if first is None or width * height == 0:
        raise UploadRejected("no decodable video frame")
    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    if duration is None and container.duration:
        duration = container.duration / av.time_base
    return UploadInfo(name, stream.codec_context.name, width, height, duration)


def _without_path(text: str, path: Path) -> str:
    """The spool path is ours, not the user's: keep it out of messages."""
    return text.replace(str(path.resolve()), "upload").replace(str(path), "upload")


class FileSource(StreamSource):
    """Decodes one spooled upload in a thread; deletes the file when done."""

    kind = StreamKind.UPLOAD

    def __init__(self, path: Path, filename: str, fps: float, duration: float | None) -> None:
        self._path = path
        self._filename = filename
        self._fps = fps
        self._duration = duration
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def display(self) -> str:
        return self._filename

    def start(self, sink: FrameSink) -> None:
        self._thread = threading.Thread(target=self._run, args=(sink,), name=f"upload-{sink.stream_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        # The decoder thread may be waiting for room in the queue; removing the stream closes the
        # queue, which releases it. Nothing here can block.
        self._stopped.set()

    def _run(self, sink: FrameSink) -> None:
        error: str | None = None
        try:
            error = self._decode(sink)
        finally:
            self._path.unlink(missing_ok=True)
            sink.end(error)

    def _decode(self, sink: FrameSink) -> str | None:
        try:
            reader = FrameReader(resolve_source(str(self._path)), sink.stream_id, self._fps)
        except SourceError as exc:
            return _without_path(str(exc), self._path)
        sink.set_status(StreamStatus.LIVE)
        try:
            for frame in reader:
                if self._stopped.is_set() or not sink.put_wait(frame):
                    return None
                if self._duration:
                    sink.set_progress(frame.t / self._duration)
            sink.set_progress(1.0)
            return None
        except SourceError as exc:
            return _without_path(str(exc), self._path)
        finally:
            reader.close()
