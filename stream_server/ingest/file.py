"""Uploaded video files, analyzed as a stream as fast as inference allows (not paced to real time).

An upload is probed before it becomes a stream: the container must be on the allow-list, the picture
no larger than `server.upload_max_pixels` (FFmpeg's own max_pixels is set to it as well) and the first
frame must decode. Probing and decoding run in a child process (decoder.py), so a crash inside FFmpeg
ends that process, not the server. Frames then go to the scheduler with `put_wait`: a file has no
deadline, so instead of dropping frames the decoder waits for inference. The spooled file is deleted
when the stream ends.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from detector.config import ServerConfig
from stream_server.ingest.base import FrameSink, StreamSource
from stream_server.ingest.decoder import DecoderFailed, DecoderProcess, UploadInfo, UploadRejected
from stream_server.types import StreamKind, StreamStatus

logger = logging.getLogger(__name__)

__all__ = ["FileSource", "UploadInfo", "UploadRejected", "start_decoder"]


def start_decoder(path: Path, config: ServerConfig, fps: float) -> DecoderProcess:
    """Probe an upload in its own process (blocking); raises UploadRejected, the child then reaped."""
    return DecoderProcess.start(path, config, fps)


class FileSource(StreamSource):
    """Feeds the frames of one upload's decoder process; deletes the file when done."""

    kind = StreamKind.UPLOAD

    def __init__(self, decoder: DecoderProcess, path: Path, filename: str, sha256: str | None = None) -> None:
        self._decoder = decoder
        self._path = path
        self._filename = filename
        self._sha256 = sha256
        self._duration = decoder.info.duration if decoder.info else None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def display(self) -> str:
        return self._filename

    @property
    def sha256(self) -> str | None:
        return self._sha256

    def start(self, sink: FrameSink) -> None:
        self._thread = threading.Thread(target=self._run, args=(sink,), name=f"upload-{sink.stream_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        # The reader thread may be waiting for room in the queue; removing the stream closes the
        # queue, which releases it, and it then stops the child. Nothing here can block.
        self._stopped.set()

    def _run(self, sink: FrameSink) -> None:
        error: str | None = None
        try:
            error = self._feed(sink)
        finally:
            self._decoder.close()
            self._path.unlink(missing_ok=True)
            sink.end(error)

    def _feed(self, sink: FrameSink) -> str | None:
        sink.set_status(StreamStatus.LIVE)
        try:
            for frame in self._decoder.frames(sink.stream_id):
                if self._stopped.is_set() or not sink.put_wait(frame):
                    return None
                if self._duration:
                    sink.set_progress(frame.t / self._duration)
        except DecoderFailed as exc:
            logger.warning("upload %s: %s", self._filename, exc)
            return str(exc)
        sink.set_progress(1.0)
        return None
