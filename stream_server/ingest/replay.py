"""A video file played back at real time, as if it were a live camera.

It behaves like the RTSP source once connected — every frame decoded, frames picked for analysis by
timestamp, handed over with `put` so the latest frame wins — without a network in between. `bench`
uses it to load the server with many 720p30 streams; it also makes demos possible without a camera.
The file loops until `seconds` of stream time have been played.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from detector.frames import RateGate, to_frame
from stream_server.ingest.base import FrameSink, StreamSource
from stream_server.types import StreamKind, StreamStatus

logger = logging.getLogger(__name__)

FrameHook = Callable[[str, float, float], None]  # stream id, stream time t, wall time handed over


class ReplaySource(StreamSource):
    """Decodes `path` in a thread and releases each frame at its presentation time."""

    kind = StreamKind.REPLAY

    def __init__(self, path: Path, fps: float, seconds: float, on_frame: FrameHook | None = None) -> None:
        self._path = path
        self._fps = fps
        self._seconds = seconds
        self._on_frame = on_frame
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.decoded = 0

    @property
    def display(self) -> str:
        return self._path.name

    def start(self, sink: FrameSink) -> None:
        self._thread = threading.Thread(target=self._run, args=(sink,), name=f"replay-{sink.stream_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()

    def _run(self, sink: FrameSink) -> None:
        sink.set_status(StreamStatus.LIVE)
        gate = RateGate(self._fps)
        start = time.monotonic()
        offset, index = 0.0, 0
        try:
            while offset < self._seconds and not self._stop.is_set():
                offset, index = self._play_once(sink, gate, start, offset, index)
        finally:
            sink.end(None)

    def _play_once(self, sink: FrameSink, gate: RateGate, start: float, offset: float, index: int) -> tuple[float, int]:
        last = offset
        with av.open(str(self._path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for av_frame in container.decode(stream):
                t = offset + float(av_frame.time or 0.0)
                if t >= self._seconds or self._stop.is_set():
                    return self._seconds, index
                self._wait_until(start + t)
                self.decoded += 1
                index += 1
                last = t
                if gate.take(t):
                    self._hand_over(sink, av_frame, t, index)
        return last + 1.0 / float(stream.average_rate or 30), index

    def _wait_until(self, when: float) -> None:
        # A live source's frames arrive at their presentation time; replay imitates that pacing.
        delay = when - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _hand_over(self, sink: FrameSink, av_frame: Any, t: float, index: int) -> None:
        frame = to_frame(sink.stream_id, av_frame, t, index)
        if self._on_frame is not None:
            self._on_frame(sink.stream_id, t, time.time())
        sink.put(frame)
