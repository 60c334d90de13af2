"""Optical flow between detector runs: faces follow a moving picture and are dropped when lost."""

from __future__ import annotations

import cv2
import numpy as np

from detector.faces.downscale import downscale
from detector.faces.motion import KeypointFlow
from detector.pipeline import Analyzer
from tests.helpers.media import Placement, compose


def _frame(x: int, y: int) -> np.ndarray:
    return compose([Placement("hopper", x, y, 220)], width=1280, height=720)


def test_keypoints_follow_a_face_that_moves(analyzer: Analyzer) -> None:
    first, moved = downscale(_frame(400, 200), 640), downscale(_frame(412, 206), 640)
    faces = first.to_full(analyzer.detector.detect(first.image))
    flow = KeypointFlow()
    flow.remember(first, faces)

    (followed,) = flow.follow(moved)

    # The true shift is known exactly; the detector's own jitter on the moved frame is larger (≈ 5 px).
    shift = followed.keypoints - faces[0].keypoints
    assert np.abs(shift - [12, 6]).max() < 2.0  # full-frame pixels, measured on a half-size copy
    assert abs(followed.box.x1 - (faces[0].box.x1 + 12)) < 3.0 and abs(followed.box.y2 - (faces[0].box.y2 + 6)) < 3.0


def test_a_face_that_disappears_is_dropped(analyzer: Analyzer) -> None:
    first = downscale(_frame(400, 200), 640)
    faces = first.to_full(analyzer.detector.detect(first.image))
    flow = KeypointFlow()
    flow.remember(first, faces)
    empty = compose([], width=1280, height=720)
    noise = np.random.default_rng(0).integers(0, 255, empty.shape, dtype=np.uint8)

    assert flow.follow(downscale(cv2.addWeighted(empty, 0.2, noise, 0.8, 0), 640)) == []


def test_nothing_is_followed_before_a_reference_frame() -> None:
    assert KeypointFlow().follow(downscale(_frame(400, 200), 640)) == []
