"""The end-to-end load figures and the shape of the function that measures them.

The measurement itself needs the live server (`stream_server.loadtest`); the server stands on the
detector and not the reverse, so the command line hands that function to `run_bench`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from detector.config import Config
from detector.pipeline import Analyzer


@dataclass(frozen=True)
class EndToEnd:
    streams: int
    seconds: float
    cpu_s: float
    wall_s: float
    picked: int
    analyzed: int
    dropped: int
    scores: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    @property
    def streams_per_core(self) -> float:
        return self.streams * self.seconds / self.cpu_s if self.cpu_s else 0.0

    @property
    def backlog(self) -> float:
        return self.dropped / self.picked if self.picked else 0.0

    @property
    def cpu_ms_per_analyzed_frame(self) -> float:
        return 1000 * self.cpu_s / self.analyzed if self.analyzed else 0.0


# (config, analyzer, clip, streams, seconds) -> figures of N live streams through the real server
EndToEndRunner = Callable[[Config, Analyzer, Path, int, float], EndToEnd]
