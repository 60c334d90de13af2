"""Per-stream bounded frame queues and the one inference worker that batches them.

Sources run at their own pace; the analyzer runs at its own pace in a single worker thread (it is not
thread-safe and inference must stay off the event loop). Between them each stream has a tiny queue
where the latest frame wins, so a source faster than inference costs counted drops, never memory or
latency. Each round the worker takes the oldest frame of every stream that has one and runs the face
crops of all of them through the model in one call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from detector.config import SchedulerConfig
from detector.types import Frame, FrameResult

logger = logging.getLogger(__name__)


class FrameAnalyzer(Protocol):
    """The part of `detector.pipeline.Analyzer` the scheduler uses."""

    def process(self, frames: Sequence[Frame]) -> list[FrameResult]: ...

    def close_stream(self, stream_id: str) -> tuple[int, ...]: ...


class FrameQueue:
    """A bounded queue of one stream's frames: put never blocks a live source, put_wait can wait."""

    def __init__(self, maxsize: int, on_put: Callable[[], None]) -> None:
        self._items: deque[Frame] = deque()
        self._maxsize = maxsize
        self._on_put = on_put
        self._cond = threading.Condition()
        self._sealed = False  # no more frames accepted; queued ones may still be taken
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._sealed:
                return
            if len(self._items) >= self._maxsize:
                # Latest frame wins: a live picture that waits is a stale picture.
                self._items.popleft()
                self.dropped += 1
            self._items.append(frame)
        self._on_put()

    def put_wait(self, frame: Frame) -> bool:
        with self._cond:
            while len(self._items) >= self._maxsize and not self._sealed:
                self._cond.wait()
            if self._sealed:
                return False
            self._items.append(frame)
        self._on_put()
        return True

    def take(self) -> Frame | None:
        with self._cond:
            frame = self._items.popleft() if self._items else None
            self._cond.notify_all()
            return frame

    def seal(self) -> None:
        """Refuse further frames (and release a waiting file source) but keep the queued ones."""
        with self._cond:
            self._sealed = True
            self._cond.notify_all()

    def close(self) -> None:
        """Refuse further frames and forget queued ones."""
        with self._cond:
            self._sealed = True
            self._items.clear()
            self._cond.notify_all()


@dataclass
class _Lane:
    queue: FrameQueue
    ending: bool = False  # no more frames will come; close the session once the queue is empty
    drain: bool = True  # analyze what is queued before closing


ResultsCallback = Callable[[Sequence[Frame], list[FrameResult]], None]
ClosedCallback = Callable[[str, tuple[int, ...]], None]
TimingCallback = Callable[[float, int], None]  # seconds one inference call took, frames in it


class Scheduler:
    """Owns the frame queues and the inference worker thread."""

    def __init__(
        self,
        analyzer: FrameAnalyzer,
        config: SchedulerConfig,
        on_results: ResultsCallback,
        on_closed: ClosedCallback,
        on_timing: TimingCallback | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._config = config
        self._on_results = on_results
        self._on_closed = on_closed
        self._on_timing = on_timing
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._rotation = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)

    def add(self, stream_id: str) -> FrameQueue:
        queue = FrameQueue(self._config.queue_size, self._wake.set)
        with self._lock:
            self._lanes[stream_id] = _Lane(queue)
        return queue

    def end(self, stream_id: str, drain: bool) -> None:
        """No more frames for this stream: analyze what is queued (drain) or drop it, then close it."""
        with self._lock:
            lane = self._lanes.get(stream_id)
            if lane is None:
                return
            lane.ending = True
            lane.drain = lane.drain and drain
            if drain:
                lane.queue.seal()
            else:
                lane.queue.close()
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Analyze what is queued, close every session, then stop the worker."""
        with self._lock:
            for lane in self._lanes.values():
                lane.ending = True
                lane.queue.seal()
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            self._close_finished()
            batch = self._collect()
            if batch:
                self._analyze(batch)
                continue
            if self._stopping.is_set() and not self._lanes:
                return
            self._wake.wait()
            self._wake.clear()

    def _collect(self) -> list[Frame]:
        """One frame from each stream that has one, rotating the start so no stream is always last."""
        with self._lock:
            lanes = list(self._lanes.values())
        if not lanes:
            return []
        self._rotation = (self._rotation + 1) % len(lanes)
        batch: list[Frame] = []
        for lane in lanes[self._rotation :] + lanes[: self._rotation]:
            if len(batch) >= self._config.max_batch_frames:
                self._wake.set()  # frames are left over: come back without waiting
                break
            frame = lane.queue.take()
            if frame is not None:
                batch.append(frame)
        return batch

    def _analyze(self, batch: list[Frame]) -> None:
        started = time.perf_counter()
        try:
            results = self._analyzer.process(batch)
        except Exception:
            # One bad frame must not stop analysis of every stream.
            self.errors += 1
            logger.exception("inference failed for a batch of %d frames", len(batch))
            return
        if self._on_timing is not None:
            self._deliver(self._on_timing, time.perf_counter() - started, len(batch))
        self._deliver(self._on_results, batch, results)

    def _close_finished(self) -> None:
        with self._lock:
            done = [sid for sid, lane in self._lanes.items() if lane.ending and (not lane.drain or not len(lane.queue))]
            for stream_id in done:
                self._lanes.pop(stream_id).queue.close()
        for stream_id in done:
            ended = self._analyzer.close_stream(stream_id)
            self._deliver(self._on_closed, stream_id, ended)

    @staticmethod
    def _deliver(call: Callable[..., None], *args: object) -> None:
        try:
            call(*args)
        except Exception:
            logger.exception("publishing analysis results failed")
