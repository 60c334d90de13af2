"""Which crops a report keeps: the top scores of each track, spread out in time, chosen online."""

from __future__ import annotations

import numpy as np

from detector.report.evidence import PeakPicker, crop_jpeg
from detector.types import Box, FaceScore, Quality, ScoreState

CROP = np.zeros((8, 8, 3), np.uint8)


def face(t: float, prob: float | None, track: int = 1) -> FaceScore:
    quality = Quality(size_px=80, sharpness=50, yaw_deg=0, ok=prob is not None)
    state = ScoreState.ANALYZING if prob is not None else ScoreState.ABSTAIN
    return FaceScore("s", track, t, prob, prob, state, Box(0, 0, 10, 10), quality, crop=CROP)


def test_keeps_the_highest_scores_at_least_the_gap_apart() -> None:
    picker = PeakPicker(per_track=2, gap_s=1.0)
    slots = [
        picker.offer(face(t, p)) for t, p in [(0.0, 0.2), (0.5, 0.3), (0.9, 0.1), (2.0, 0.4), (4.0, 0.5), (6, 0.25)]
    ]
    # 0.3 within a second of 0.2 replaces it in slot 0; 0.1 is near and lower; 0.4 opens slot 1;
    # 0.5 is far from both and beats the lowest (0.3, slot 0); 0.25 beats neither kept one.
    assert slots == [0, 0, None, 1, 0, None]


def test_abstentions_are_never_kept_and_tracks_are_separate() -> None:
    picker = PeakPicker(per_track=1)
    assert picker.offer(face(0.0, None)) is None
    assert picker.offer(face(0.0, 0.9, track=1)) == 0
    assert picker.offer(face(0.1, 0.1, track=2)) == 0  # another track has its own slots


def test_crop_jpeg_is_a_jpeg() -> None:
    assert crop_jpeg(np.full((224, 224, 3), 128, np.uint8))[:3] == b"\xff\xd8\xff"
