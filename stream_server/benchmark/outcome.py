"""What analysing one labelled clip produced: the values every benchmark metric is computed from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ClipStatus(StrEnum):
    SCORED = "scored"  # a video score exists
    NO_FACE = "no_face"  # the detector found no face in any analyzed frame
    ABSTAINED = "abstained"  # faces were found but every one was too small, blurred or turned away
    ERROR = "error"  # the clip could not be read


@dataclass(frozen=True)
class FrameRow:
    """One face in one analyzed frame of a clip: the model's raw probability, or why it abstained.

    The alert rule and the calibration are functions of these rows, so a benchmark's `frames.csv` lets
    them be re-chosen and re-measured without running the model again (`stream_server.benchmark.replay`).
    """

    track: int
    t: float  # stream seconds
    raw: float | None  # the model's output before calibration; None when the face abstained
    reason: str = ""  # why it abstained


@dataclass(frozen=True)
class ClipOutcome:
    """One clip's result. Times are seconds of video from the clip's first analyzed frame."""

    name: str
    label: int  # 0 real, 1 fake
    family: str
    generator: str
    status: ClipStatus
    video_score: float | None = None
    verdict: str | None = None  # the product's: real / uncertain / fake
    duration_s: float = 0.0  # of the analyzed span
    frames_analyzed: int = 0
    frames_scored: int = 0
    faces_seen: int = 0
    alerts: int = 0  # alerts started by the server's rule
    first_alert_s: float | None = None
    abstentions: int = 0  # face-frames the quality gate abstained on
    reason: str = ""  # why a clip has no score
    start_t: float = 0.0  # stream time of the first analyzed frame (alert times count from it)
    frames: tuple[FrameRow, ...] = field(default=(), repr=False, compare=False)

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in asdict(self).items() if k != "frames"}
        row["status"] = self.status.value
        return row
