"""The scheduler: a source faster than inference keeps its queue at most 2 deep and counts its drops."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from detector.config import SchedulerConfig
from detector.pipeline import Analyzer
from detector.types import Frame, FrameResult
from stream_server.scheduler import FrameQueue, Scheduler
from tests.helpers.analysis import unique_stream_id


class GatedAnalyzer:
    """The real analyzer, held at a gate: inference is 'slow' for exactly as long as the test says."""

    def __init__(self, inner: Analyzer) -> None:
        self.inner = inner
        self.info = inner.info
        self.busy = threading.Event()
        self.go = threading.Event()

    def process(self, frames: Sequence[Frame]) -> list[FrameResult]:
        self.busy.set()
        self.go.wait()
        return self.inner.process(frames)

    def close_stream(self, stream_id: str) -> tuple[int, ...]:
        return self.inner.close_stream(stream_id)


def frame(stream_id: str, index: int, image: np.ndarray) -> Frame:
    return Frame(stream_id, image, index, None, index / 30, index)


def test_fast_source_keeps_queue_at_two_and_counts_drops(analyzer: Analyzer, face_frames: list[np.ndarray]) -> None:
    gated = GatedAnalyzer(analyzer)
    analyzed: list[int] = []
    closed = threading.Event()
    done = threading.Event()

    def on_results(frames: Sequence[Frame], results: list[FrameResult]) -> None:
        analyzed.extend(r.index for r in results)

    def on_closed(stream_id: str, ended: tuple[int, ...]) -> None:
        closed.set()
        done.set()

    scheduler = Scheduler(gated, SchedulerConfig(queue_size=2), on_results, on_closed)
    stream_id = unique_stream_id("fast")
    queue = scheduler.add(stream_id)
    scheduler.start()
    queue.put(frame(stream_id, 0, face_frames[0]))
    assert gated.busy.wait(30)  # frame 0 is in inference, which now 'takes forever'
    depths = []
    for i in range(1, 31):
        queue.put(frame(stream_id, i, face_frames[i]))
        depths.append(len(queue))
    assert max(depths) == 2
    assert queue.dropped == 28
    gated.go.set()
    scheduler.end(stream_id, drain=True)
    assert done.wait(30)
    scheduler.stop(10)
    assert analyzed == [0, 29, 30]  # the latest frames won
    assert closed.is_set() and not scheduler.running


def test_file_source_waits_instead_of_dropping() -> None:
    queue = FrameQueue(2, on_put=lambda: None)
    image = np.zeros((8, 8, 3), np.uint8)
    assert queue.put_wait(frame("f", 0, image)) and queue.put_wait(frame("f", 1, image))
    released: list[bool] = []
    waiter = threading.Thread(target=lambda: released.append(queue.put_wait(frame("f", 2, image))))
    waiter.start()
    taken = queue.take()  # makes room: the waiting put goes through
    waiter.join(10)
    assert taken is not None and taken.index == 0
    assert released == [True] and queue.dropped == 0 and len(queue) == 2
    blocked = threading.Thread(target=lambda: released.append(queue.put_wait(frame("f", 3, image))))
    blocked.start()
    queue.close()  # removing the stream releases a waiting file source
    blocked.join(10)
    assert released == [True, False]


def test_batches_take_one_frame_from_each_stream(analyzer: Analyzer, face_frames: list[np.ndarray]) -> None:
    gated = GatedAnalyzer(analyzer)
    batches: list[list[str]] = []
    enough = threading.Event()

    def on_results(frames: Sequence[Frame], results: list[FrameResult]) -> None:
        batches.append(sorted(f.stream_id for f in frames))
        if len(batches) == 2:
            enough.set()

    scheduler = Scheduler(gated, SchedulerConfig(), on_results, lambda s, e: None)
    a, b = unique_stream_id("a"), unique_stream_id("b")
    qa, qb = scheduler.add(a), scheduler.add(b)
    scheduler.start()
    qa.put(frame(a, 0, face_frames[0]))
    assert gated.busy.wait(30)
    qa.put(frame(a, 1, face_frames[1]))
    qb.put(frame(b, 0, face_frames[2]))
    gated.go.set()
    assert enough.wait(30)
    scheduler.stop(10)
    assert batches == [[a], sorted([a, b])]  # the second call analyzed both streams together
