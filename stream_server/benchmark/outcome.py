"""What analysing one labelled clip produced: the values every benchmark metric is computed from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ClipStatus(StrEnum):
    SCORED = "scored"  # a video score exists
    NO_FACE = "no_face"  # the detector found no face in any analyzed frame
    ABSTAINED = "abstained"  # faces were found but every one was too small, blurred or turned away
    ERROR = "error"  # the clip could not be read


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

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["status"] = self.status.value
        return row
