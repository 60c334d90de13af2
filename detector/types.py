"""Frozen values that cross stage boundaries (decode → faces → tracks → model → scores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded picture, BGR uint8, with its presentation time kept from the source."""

    stream_id: str
    image: np.ndarray = field(repr=False)
    pts: int | None
    time_base: Fraction | None
    t: float  # seconds from pts (or from arrival for sources without pts)
    index: int  # decode order index within the stream


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels, corners inclusive-exclusive."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self) -> list[float]:
        # float(): coordinates computed with numpy (optical flow) are numpy scalars, which JSON refuses.
        return [round(float(v), 1) for v in (self.x1, self.y1, self.x2, self.y2)]


@dataclass(frozen=True)
class Detection:
    """A face found in one frame: box, 5 keypoints (l-eye, r-eye, nose, l-mouth, r-mouth), confidence."""

    box: Box
    keypoints: np.ndarray = field(repr=False)  # (5, 2) float32, image pixels
    score: float


@dataclass(frozen=True)
class AlignedFace:
    """A face warped to the model's input by the 5-point similarity transform."""

    crop: np.ndarray = field(repr=False)  # (S, S, 3) BGR uint8
    matrix: np.ndarray = field(repr=False)  # (2, 3) image → crop
    keypoints: np.ndarray = field(repr=False)  # (5, 2) keypoints in crop coordinates


@dataclass(frozen=True)
class MeshLandmarks:
    """The 468-point face mesh of one face (detector.faces.mesh_topology names its parts)."""

    points: np.ndarray = field(repr=False)  # (468, 2) float32, x y in the pixels of the image it ran on
    presence: float  # the model's face-presence probability; below ~0.5 the points mean little

    def transformed(self, matrix: np.ndarray) -> MeshLandmarks:
        """The same landmarks under a 2×3 affine (e.g. `AlignedFace.matrix`: frame → crop pixels)."""
        points = self.points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
        return MeshLandmarks(points.astype(np.float32), self.presence)


@dataclass(frozen=True)
class Quality:
    """Why a face can or cannot be judged: size, sharpness and pose."""

    size_px: float
    sharpness: float  # variance of the Laplacian of the grey crop
    yaw_deg: float  # rough yaw from keypoints; 0 is frontal
    ok: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "size_px": round(float(self.size_px), 1),
            "sharpness": round(float(self.sharpness), 1),
            "yaw_deg": round(float(self.yaw_deg), 1),
            "ok": self.ok,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class TrackedFace:
    """A detection assigned to a track id within one stream."""

    track_id: int
    detection: Detection
    is_new: bool


class ScoreState(StrEnum):
    ANALYZING = "analyzing"
    ABSTAIN = "abstain"


class FaceState(StrEnum):
    """What a person is told about a face, from the sequential alert rule (`detector.evidence`)."""

    GATHERING = "gathering_evidence"  # too few scored frames to say anything
    REAL = "looks_real"
    UNCERTAIN = "uncertain"
    LIKELY_FAKE = "likely_fake"  # evidence is building towards the alert bound
    ALERT = "alert"  # the evidence crossed the bound and has not fallen back below the release level

    @property
    def rank(self) -> int:
        """Severity order: a summary reports the most severe state a face reached."""
        return list(FaceState).index(self)


@dataclass(frozen=True)
class RunFrame:
    """A scored frame of the run of evidence that led to an alert (its reasons, in the alert)."""

    t: float
    prob: float  # calibrated
    increment: float  # what it added to the evidence: clipped log-odds minus drift

    def as_list(self) -> list[float]:
        return [round(self.t, 3), round(self.prob, 4), round(self.increment, 3)]


class Verdict(StrEnum):
    REAL = "real"
    FAKE = "fake"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class FaceScore:
    """The model's view of one face in one analyzed frame.

    `prob` is the calibrated probability (what a person is shown), `raw` the model's own output before
    calibration; `evidence` and `judgement` come from the track's sequential alert rule.
    """

    stream_id: str
    track_id: int
    t: float
    prob: float | None  # calibrated; None when abstaining
    rolling: float | None
    state: ScoreState
    box: Box
    quality: Quality
    # The aligned crop the model saw; kept out of as_dict/repr/eq (the server shows it as a thumbnail).
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    raw: float | None = None  # the model's output before calibration
    evidence: float = 0.0  # the track's accumulated log-odds evidence (CUSUM) after this frame
    judgement: FaceState = FaceState.GATHERING
    # Where the track's alert starts at this frame: the scored frames that built its evidence.
    run: tuple[RunFrame, ...] | None = field(default=None, repr=False, compare=False)
    # The face mesh in frame pixels when `mesh.enabled` (per-track landmark motion for the model).
    landmarks: MeshLandmarks | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "stream": self.stream_id,
            "track": self.track_id,
            "t": round(self.t, 3),
            "prob": None if self.prob is None else round(self.prob, 4),
            "raw": None if self.raw is None else round(self.raw, 4),
            "rolling": None if self.rolling is None else round(self.rolling, 4),
            "evidence": round(self.evidence, 3),
            "judgement": self.judgement.value,
            "state": self.state.value,
            "box": self.box.as_list(),
            "quality": self.quality.as_dict(),
        }


@dataclass(frozen=True)
class FrameResult:
    """Everything one analyzed frame produced."""

    stream_id: str
    t: float
    index: int
    faces: tuple[FaceScore, ...]
    ended_tracks: tuple[int, ...]
    scene_cut: bool
