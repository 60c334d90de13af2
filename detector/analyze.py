"""Analyze one file or live URL end to end (the `analyze` command's engine)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from detector.config import Config, ConfigError
from detector.frames import FrameReader, SourceKind, resolve_source
from detector.summary import SummaryBuilder, VideoSummary
from detector.types import Frame, FrameResult

if TYPE_CHECKING:
    from detector.pipeline import Analyzer, ModelInfo


@dataclass(frozen=True)
class AnalyzeRequest:
    source: str
    stream_id: str = "video"
    fps: float | None = None  # overrides analysis.fps
    weights: Path | None = None  # overrides model.weights
    show_progress: bool = True


def configure(config: Config, request: AnalyzeRequest) -> Config:
    """Apply command-line overrides on top of the config file."""
    update: dict[str, BaseModel] = {}
    if request.fps is not None:
        update["analysis"] = config.analysis.model_copy(update={"fps": request.fps})
    if request.weights is not None:
        update["model"] = config.model.model_copy(update={"weights": request.weights})
    try:
        return Config.model_validate({**config.model_dump(), **{k: v.model_dump() for k, v in update.items()}})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid option {key}: {first['msg']}") from exc


def run_analysis(
    config: Config,
    request: AnalyzeRequest,
    on_face: Callable[[dict[str, object]], None] | None = None,
    analyzer: Analyzer | None = None,
    on_result: Callable[[FrameResult], None] | None = None,
    on_model: Callable[[ModelInfo], None] | None = None,
) -> VideoSummary:
    """Decode, analyze and summarise; `on_face` sees every face score as it is produced, `on_result`
    every analyzed frame (the benchmark runs the alert rule on them) and `on_model` the model's info
    once it is loaded, before the first frame (`--report` needs its threshold)."""
    config = configure(config, request)
    source = resolve_source(request.source)
    reader = FrameReader(source, request.stream_id, config.analysis.fps)
    try:
        if analyzer is None:
            # Imported here: torch and the model take seconds to load, and a bad input should be
            # reported before that, not after.
            from detector.pipeline import Analyzer

            analyzer = Analyzer(config)
    except BaseException:
        reader.close()  # the decoder thread never started; only the container is open
        raise
    if on_model is not None:
        on_model(analyzer.info)
    analyzer.open_stream(request.stream_id)
    summary = SummaryBuilder(request.stream_id, analyzer.info, config.scoring)
    show = request.show_progress and source.kind is SourceKind.FILE and reader.info.duration is not None
    bar = tqdm(total=round(reader.info.duration or 0, 2), unit="s", disable=not show or None, leave=False)
    try:
        for result in _pipelined(reader, analyzer):
            summary.add(result)
            if on_result is not None:
                on_result(result)
            if on_face is not None:
                for face in result.faces:
                    on_face(face.as_dict())
            bar.update(round(result.t - bar.n, 2))
    finally:
        bar.close()
        reader.close()
        analyzer.close_stream(request.stream_id)
    return summary.build()


_DONE = object()


def _pipelined(frames: Iterable[Frame], analyzer: Analyzer) -> Iterator[FrameResult]:
    """Faces of frame n+1 are found (one thread) while frame n goes through the model (this thread).

    Both halves spend their time in ONNX Runtime and OpenCV, which release the GIL, so a file is
    analyzed on two cores; order is kept by the queue between them, which holds at most two frames.
    """
    located: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> None:
        # Never block for ever: once the consumer has stopped, nobody takes from the queue.
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                located.put(item, timeout=0.1)
                return

    def locate_all() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                put(analyzer.locate([frame]))
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=locate_all, name="locate", daemon=True)
    worker.start()
    try:
        while (item := located.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield analyzer.score(item)[0]
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue. One stuck in the reader is released when the
        # caller closes the reader; it is a daemon thread, so it is not waited for beyond this.
        deadline = time.monotonic() + 2.0
        while worker.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                located.get(timeout=0.1)
