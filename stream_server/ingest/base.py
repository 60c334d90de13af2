"""What every source is, and what it feeds.

A source produces frames at its own pace in its own thread or task and hands them to a `FrameSink`.
The sink belongs to the scheduler: it never blocks a live source (the latest frame wins), while a file
source may wait for room because an upload has no real-time deadline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from detector.types import Frame
from stream_server.types import StreamKind, StreamStatus


class FrameSink(Protocol):
    """Where a source puts its frames and reports how it is doing; safe to call from any thread."""

    stream_id: str

    def put(self, frame: Frame) -> None:
        """Queue a live frame; when the queue is full the oldest is dropped and counted."""

    def put_wait(self, frame: Frame) -> bool:
        """Queue a file frame, waiting for room; False once the stream is being removed."""

    def set_status(self, status: StreamStatus, error: str | None = None) -> None:
        """Report connecting / live / stalled / reconnecting, with the last error if any."""

    def set_progress(self, fraction: float) -> None:
        """Report how much of a finite source has been read (0..1)."""

    def end(self, error: str | None = None) -> None:
        """The source will produce no more frames; the stream stops once its queue is analyzed."""


class StreamSource(ABC):
    """One producer of frames for one stream."""

    kind: StreamKind

    @property
    @abstractmethod
    def display(self) -> str:
        """Where the frames come from, safe to show (credentials masked)."""

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the source's bytes, for the evidence report; only a file has one."""
        return None

    @abstractmethod
    def start(self, sink: FrameSink) -> None:
        """Begin producing frames into `sink`; returns at once."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop producing and release resources, within a bounded time."""

    def poll(self, now: float) -> None:  # noqa: B027 - optional hook with a no-op default
        """Called about twice a second with the monotonic time, for checks a blocked reader cannot make."""
