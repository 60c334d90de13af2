"""The shared small copy of a frame: its scale, its grey, and detections mapped back to full pixels."""

from __future__ import annotations

import cv2
import numpy as np

from detector.faces.downscale import downscale
from detector.pipeline import Analyzer
from tests.helpers.media import photo


def test_a_large_frame_is_shrunk_to_the_working_side_keeping_its_shape() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)

    small = downscale(frame, 640)

    assert small.image.shape == (360, 640, 3)
    assert small.scale == 0.5
    assert small.grey.shape == (360, 640) and small.grey.dtype == np.uint8


def test_a_frame_within_the_working_side_is_used_as_it_is() -> None:
    frame = np.zeros((144, 176, 3), np.uint8)

    small = downscale(frame, 640)

    assert small.image is frame and small.scale == 1.0


def test_faces_found_on_the_small_copy_land_on_the_full_frame(analyzer: Analyzer) -> None:
    full = cv2.resize(photo("hopper"), None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    small = downscale(full, 640)

    (on_small,) = analyzer.detector.detect(small.image)
    (on_full,) = small.to_full([on_small])

    assert np.allclose(on_full.keypoints, on_small.keypoints / small.scale)
    assert on_full.box.x2 - on_full.box.x1 > 2.5 * (on_small.box.x2 - on_small.box.x1)
    assert on_full.score == on_small.score
    # The eyes are where a detector sees them on the full frame, within a pixel of the small copy's grid.
    (direct,) = analyzer.detector.detect(full)
    assert np.abs(on_full.keypoints - direct.keypoints).max() < 1.0 / small.scale
