"""Associates faces across analyzed frames into stable track ids (box IoU + keypoint distance)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.config import TrackerConfig
from detector.types import Detection, TrackedFace


@dataclass
class _Track:
    track_id: int
    last: Detection
    missed: int = 0


@dataclass(frozen=True)
class TrackUpdate:
    """Result of one frame: faces with their ids, and tracks that ended."""

    faces: tuple[TrackedFace, ...]
    ended: tuple[int, ...]


class FaceTracker:
    """Greedy, cost-ordered matching; a track ends after `max_missed` analyzed frames without a match."""

    def __init__(self, config: TrackerConfig) -> None:
        self._config = config
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1

    @property
    def active_ids(self) -> list[int]:
        return list(self._tracks)

    def update(self, detections: list[Detection]) -> TrackUpdate:
        pairs = self._candidate_pairs(detections)
        matched_tracks: set[int] = set()
        assigned: dict[int, int] = {}  # detection index → track id
        for _, det_index, track_id in sorted(pairs):
            if det_index in assigned or track_id in matched_tracks:
                continue
            assigned[det_index] = track_id
            matched_tracks.add(track_id)
        faces = [self._assign(i, d, assigned.get(i)) for i, d in enumerate(detections)]
        return TrackUpdate(faces=tuple(faces), ended=tuple(self._age({f.track_id for f in faces})))

    def _candidate_pairs(self, detections: list[Detection]) -> list[tuple[float, int, int]]:
        pairs = []
        for i, det in enumerate(detections):
            for track in self._tracks.values():
                cost = self._cost(track.last, det)
                if cost is not None:
                    pairs.append((cost, i, track.track_id))
        return pairs

    def _cost(self, previous: Detection, current: Detection) -> float | None:
        iou = previous.box.iou(current.box)
        width = max(previous.box.width, current.box.width, 1.0)
        shift = float(np.linalg.norm(previous.keypoints - current.keypoints, axis=1).mean()) / width
        if iou < self._config.min_iou and shift > self._config.max_keypoint_distance:
            return None
        return (1.0 - iou) + shift

    def _assign(self, index: int, detection: Detection, track_id: int | None) -> TrackedFace:
        if track_id is None:
            track_id = self._next_id
            self._next_id += 1
            self._tracks[track_id] = _Track(track_id, detection)
            return TrackedFace(track_id=track_id, detection=detection, is_new=True)
        track = self._tracks[track_id]
        track.last, track.missed = detection, 0
        return TrackedFace(track_id=track_id, detection=detection, is_new=False)

    def _age(self, seen: set[int]) -> list[int]:
        ended = []
        for track_id, track in list(self._tracks.items()):
            if track_id in seen:
                continue
            track.missed += 1
            if track.missed > self._config.max_missed:
                ended.append(track_id)
                del self._tracks[track_id]
        return ended

    def end_all(self) -> list[int]:
        ended = list(self._tracks)
        self._tracks.clear()
        return ended
