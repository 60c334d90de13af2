"""Run the real decode → analyze path over a file and keep every FrameResult (for assertions)."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

from detector.frames import FrameReader, resolve_source
from detector.pipeline import Analyzer
from detector.types import Frame, FrameResult

_ids = itertools.count(1)


def unique_stream_id(prefix: str = "test") -> str:
    """A stream id no other test uses, so tests can share one Analyzer without sharing state."""
    return f"{prefix}-{next(_ids)}"


def frames_of(path: Path, fps: float = 15) -> list[Frame]:
    """Every frame FrameReader picks from `path` at `fps` (stream id "source")."""
    reader = FrameReader(resolve_source(str(path)), "source", fps)
    try:
        return list(reader)
    finally:
        reader.close()


def analyze_file(analyzer: Analyzer, path: Path, fps: float = 15.0, stream_id: str | None = None) -> list[FrameResult]:
    """Every analyzed frame of `path` at `fps`, through FrameReader and Analyzer.process, one frame at a time."""
    stream_id = stream_id or unique_stream_id(path.stem)
    analyzer.open_stream(stream_id)
    reader = FrameReader(resolve_source(str(path)), stream_id, fps)
    try:
        return [analyzer.process([frame])[0] for frame in reader]
    finally:
        reader.close()
        analyzer.close_stream(stream_id)


def track_ids(results: list[FrameResult]) -> Counter[int]:
    """How many analyzed frames each track id appears in."""
    return Counter(face.track_id for result in results for face in result.faces)
