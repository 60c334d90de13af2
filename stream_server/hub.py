"""The hub: adds and removes streams, and routes analysis results to the table, the store and /ws.

Sources call into it from their threads (through a `FrameSink`), the inference worker calls it with
results from its thread, the API calls it on the event loop. Results go to the store *before* they
are handed to the WebSocket broadcaster, so a score a client has seen is always on its way to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from detector import __version__
from detector.config import Config
from detector.pipeline import ModelInfo
from detector.types import Frame, FrameResult
from stream_server import messages
from stream_server.events import AlertTracker
from stream_server.evidence import EvidenceKeeper
from stream_server.ingest.base import StreamSource
from stream_server.messages import Message
from stream_server.metrics import AnalysisMetrics
from stream_server.scheduler import FrameAnalyzer, FrameQueue, Scheduler
from stream_server.sink import ResultSink
from stream_server.store import StreamRecord
from stream_server.streams import StreamTable
from stream_server.types import Alert, StreamStatus

logger = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.5
_PROGRESS_STEP = 0.02  # announce upload progress in steps of 2 %, not per frame


class HubFull(RuntimeError):
    """As many streams are running as `server.max_streams` allows."""


class AnalyzerWithInfo(FrameAnalyzer, Protocol):
    info: ModelInfo


class _Sink:
    """A source's view of its stream (see `ingest.base.FrameSink`)."""

    def __init__(self, hub: Hub, stream_id: str, queue: FrameQueue) -> None:
        self.stream_id = stream_id
        self._hub = hub
        self._queue = queue
        self._announced = 0.0

    def put(self, frame: Frame) -> None:
        self._queue.put(frame)

    def put_wait(self, frame: Frame) -> bool:
        return self._queue.put_wait(frame)

    def set_status(self, status: StreamStatus, error: str | None = None) -> None:
        self._hub.set_status(self.stream_id, status, error)

    def set_progress(self, fraction: float) -> None:
        self._hub.streams.set_progress(self.stream_id, fraction)
        if fraction - self._announced >= _PROGRESS_STEP:
            self._announced = fraction
            self._hub.announce(self.stream_id)

    def end(self, error: str | None = None) -> None:
        self._hub.source_ended(self.stream_id, error)


class Hub:
    """Owns the streams, the scheduler and the alert tracker; publishes what they produce."""

    def __init__(
        self,
        analyzer: AnalyzerWithInfo,
        config: Config,
        sink: ResultSink,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        metrics: AnalysisMetrics | None = None,
    ) -> None:
        self.config = config
        self.info: ModelInfo = analyzer.info
        self.sink = sink
        self.metrics = metrics if metrics is not None else AnalysisMetrics()
        # CPU seconds per stage, accumulated by the analyzer itself (absent on test doubles).
        self.stage_times = getattr(analyzer, "times", None)
        self.streams = StreamTable(clock, config.scheduler.fps_window_s)
        self.alerts = AlertTracker(config.events, self.info.rule.bound, self.info.trained)
        self.evidence = EvidenceKeeper(sink)
        self.scheduler = Scheduler(
            analyzer, config.scheduler, self._on_results, self._on_closed, self.metrics.observe_batch
        )
        self._clock = clock
        self._wall = wall_clock
        self._sources: dict[str, StreamSource] = {}
        self._end_errors: dict[str, str | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.scheduler.start()
        self._poller = asyncio.create_task(self._poll(), name="source-poll")

    def add(self, source: StreamSource, name: str, stream_id: str | None = None) -> str:
        """Register and start a source; returns the stream's id (new unless a cluster camera's is given)."""
        if self._stopping:
            raise HubFull("the server is shutting down")
        if self.streams.active_count() >= self.config.server.max_streams:
            raise HubFull(f"at most {self.config.server.max_streams} streams may run at once")
        self._forget_old_stopped()
        stream_id = stream_id or "s-" + uuid.uuid4().hex[:10]
        queue = self.scheduler.add(stream_id)
        entry = self.streams.add(stream_id, name, source.kind, source.display, self._wall())
        self.sink.add_stream(self._record(stream_id, name, source, entry.created))
        entry.dropped, entry.queued = (lambda: queue.dropped), (lambda: len(queue))
        self._sources[stream_id] = source
        source.start(_Sink(self, stream_id, queue))
        self.announce(stream_id)
        logger.info("stream %s (%s) added: %s", stream_id, source.kind.value, source.display)
        return stream_id

    def _record(self, stream_id: str, name: str, source: StreamSource, created: float) -> StreamRecord:
        """The stream as its evidence report will describe it, model included (it may change by then)."""
        model = {
            "name": self.info.name,
            "software_version": __version__,
            "threshold": self.info.threshold,
            "trained": self.info.trained,
            "bound": self.info.rule.bound,
            "calibration": self.info.calibration.method,
        }
        return StreamRecord(stream_id, name, source.kind.value, source.display, source.sha256, created, model)

    async def remove(self, stream_id: str) -> bool:
        """Stop a stream and drop it from the table; its timeline stays in the store."""
        if stream_id not in self.streams:
            return False
        source = self._sources.pop(stream_id, None)
        if source is not None:
            await source.stop()
        self.scheduler.end(stream_id, drain=False)
        self.evidence.forget(stream_id)
        self.sink.end_stream(stream_id, self._wall())
        summary = self.streams.summary(stream_id, faces=False)
        self.streams.remove(stream_id)
        if summary is not None:
            self._emit([messages.status({**summary, "status": StreamStatus.STOPPED.value, "removed": True})])
        return True

    async def stop(self) -> None:
        """Stop every source, analyze what is queued, close open alerts."""
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        sources = list(self._sources.values())
        self._sources.clear()
        await asyncio.gather(*(s.stop() for s in sources), return_exceptions=True)
        await asyncio.to_thread(self.scheduler.stop, self.config.server.graceful_shutdown_s)

    def set_status(self, stream_id: str, status: StreamStatus, error: str | None) -> None:
        if self.streams.set_status(stream_id, status, error):
            logger.info("stream %s: %s%s", stream_id, status.value, f" ({error})" if error else "")
            self.announce(stream_id)

    def announce(self, stream_id: str) -> None:
        summary = self.streams.summary(stream_id, faces=False)
        if summary is not None:
            self._emit([messages.status(summary)])

    def source_ended(self, stream_id: str, error: str | None) -> None:
        """The source is done: the stream stops once its queued frames are analyzed."""
        if stream_id not in self.streams:
            return  # removed already; its queue is gone
        self._end_errors.setdefault(stream_id, error)
        self.scheduler.end(stream_id, drain=True)

    def hello(self) -> Message:
        return messages.hello(self.info, self.streams.summaries(), self.alerts.enabled)

    # Called on the inference worker thread.

    def _on_results(self, frames: Sequence[Frame], results: list[FrameResult]) -> None:
        wall = self._wall()
        out: list[Message] = []
        for frame, result in zip(frames, results, strict=True):
            self.streams.record(frame, result)
            self.sink.add_scores(result.faces, wall)
            alerts = self.alerts.update(result, wall)
            self._keep_alerts(alerts)
            self.evidence.record(result, alerts)
            self.metrics.record((result,), alerts)
            out.extend(messages.score(face, wall) for face in result.faces)
            out.extend(messages.track_end(result.stream_id, track, result.t) for track in result.ended_tracks)
            out.extend(messages.event(alert) for alert in alerts)
        self._emit(out)

    def _on_closed(self, stream_id: str, ended_tracks: tuple[int, ...]) -> None:
        reason = "shutdown" if self._stopping else "stream_stopped"
        alerts = self.alerts.end_stream(stream_id, self._wall(), reason)
        self._keep_alerts(alerts)
        self._emit([messages.event(alert) for alert in alerts])
        self.evidence.forget(stream_id)
        self.sink.end_stream(stream_id, self._wall())
        self.set_status(stream_id, StreamStatus.STOPPED, self._end_errors.pop(stream_id, None))

    def _keep_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.sink.add_alert(alert)
            self.streams.record_alert(alert)

    # Plumbing.

    def _emit(self, out: list[Message]) -> None:
        """Hand messages to the broadcaster on the event loop, from whichever thread we are on."""
        if not out or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening any more
            self._loop.call_soon_threadsafe(self.sink.publish, out)

    def _forget_old_stopped(self) -> None:
        """Stopped streams stay listed (their last state is useful) but only up to max_streams of them."""
        while len(self.streams.ids()) >= 2 * self.config.server.max_streams:
            oldest = self.streams.oldest_stopped()
            if oldest is None:
                return
            self.streams.remove(oldest)
            self._sources.pop(oldest, None)

    async def _poll(self) -> None:
        # A reader blocked inside FFmpeg cannot notice its own stall; this tick lets it be seen.
        while True:
            await asyncio.sleep(_POLL_INTERVAL_S)
            now = self._clock()
            for source in list(self._sources.values()):
                source.poll(now)
