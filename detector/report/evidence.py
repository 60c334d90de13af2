"""Which face crops a report keeps: each track's highest-scoring moments, spread out in time.

Crops are chosen as the scores arrive (a stream may run for hours; keeping every crop is not an
option), so the choice is online: a track keeps at most `per_track` peaks, at least `gap_s` apart,
and a higher score replaces the nearest kept one within the gap or else the lowest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from detector.events import Alert, AlertPhase
from detector.report.data import EvidenceCrop
from detector.types import FaceScore, FrameResult

CROP_SIDE = 128  # px: large enough to recognise a person in a printed report, small enough to inline
PEAKS_PER_TRACK = 3
PEAK_GAP_S = 1.0


@dataclass(frozen=True)
class _Kept:
    t: float
    prob: float


class PeakPicker:
    """Online top-N of one stream's face probabilities per track; `offer` says which slot to (re)fill."""

    def __init__(self, per_track: int = PEAKS_PER_TRACK, gap_s: float = PEAK_GAP_S) -> None:
        self._per_track = per_track
        self._gap = gap_s
        self._kept: dict[int, list[_Kept]] = {}

    def offer(self, face: FaceScore) -> int | None:
        """The slot (0..per_track-1) this face's crop should now fill, or None to drop it."""
        if face.prob is None or face.crop is None:
            return None
        kept = self._kept.setdefault(face.track_id, [])
        slot = self._slot_for(kept, face.t, face.prob)
        if slot is not None:
            entry = _Kept(face.t, face.prob)
            if slot == len(kept):
                kept.append(entry)
            else:
                kept[slot] = entry
        return slot

    def _slot_for(self, kept: list[_Kept], t: float, prob: float) -> int | None:
        near = [i for i, k in enumerate(kept) if abs(k.t - t) < self._gap]
        if near:
            nearest = min(near, key=lambda i: abs(kept[i].t - t))
            return nearest if prob > kept[nearest].prob else None
        if len(kept) < self._per_track:
            return len(kept)
        lowest = min(range(len(kept)), key=lambda i: kept[i].prob)
        return lowest if prob > kept[lowest].prob else None


@dataclass(frozen=True)
class CropChoice:
    """A crop chosen for the report, not yet encoded: the server encodes on its store's writer thread,
    off the analysis path. `slot` is `peak-N` (replacing what held it before) or an alert's id."""

    slot: str
    track_id: int
    t: float
    score: float | None
    why: str
    image: np.ndarray = field(repr=False, compare=False)

    def encoded(self) -> EvidenceCrop:
        return EvidenceCrop(self.track_id, self.t, self.score, self.why, crop_jpeg(self.image))


def chosen_crops(picker: PeakPicker, result: FrameResult, alerts: list[Alert]) -> list[CropChoice]:
    """The crops of this frame worth keeping: new top scores, and the faces whose alert starts here."""
    out = []
    for face in result.faces:
        slot = picker.offer(face)
        if slot is not None and face.crop is not None:
            out.append(CropChoice(f"peak-{slot}", face.track_id, face.t, face.prob, "peak", face.crop))
    faces = {face.track_id: face for face in result.faces}
    for alert in alerts:
        alerted = faces.get(alert.track_id)
        if alert.phase is AlertPhase.START and alerted is not None and alerted.crop is not None:
            out.append(CropChoice(alert.id, alert.track_id, alerted.t, alert.score, "alert", alerted.crop))
    return out


def crop_jpeg(crop: np.ndarray) -> bytes:
    """An aligned face crop (BGR) as a small JPEG for a report."""
    small = cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
