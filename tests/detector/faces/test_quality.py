"""The quality gate's measures: yaw from keypoints, sharpness of the crop, and the order of its reasons."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.config import ScoringConfig
from detector.faces.align import align_face, template
from detector.faces.quality import assess, sharpness, yaw_degrees
from detector.types import Box, Detection
from tests.helpers.media import photo


def turned(shift: float) -> np.ndarray:
    """A symmetric frontal face's keypoints with the nose moved sideways by `shift` half eye-distances."""
    points = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]])
    points[2, 0] += shift * 20
    return points


@pytest.mark.parametrize(("shift", "expected"), [(0.0, 0.0), (0.5, 25.8), (-0.5, -25.8), (1.0, 60.5)])
def test_yaw_from_the_nose_offset(shift: float, expected: float) -> None:
    assert yaw_degrees(turned(shift)) == pytest.approx(expected, abs=0.2)


def test_sharpness_falls_with_blur() -> None:
    (face,) = [align_face(photo("hopper"), template(128) * 2 + [100, 60], 128).crop]
    blurred = cv2.GaussianBlur(face, (0, 0), 4)

    assert sharpness(face) > 4 * sharpness(blurred)


def test_reasons_in_order_small_then_blurred_then_turned() -> None:
    config = ScoringConfig(min_face_px=32, min_sharpness=8, max_yaw_deg=45)
    sharp = align_face(photo("hopper"), template(128) * 2 + [100, 60], 128)
    flat = align_face(np.full((300, 300, 3), 128, np.uint8), template(128), 128)

    def detection(size: float, shift: float) -> Detection:
        return Detection(Box(0, 0, size, size), turned(shift).astype(np.float32), 0.99)

    assert assess(detection(20, 1.0), flat, config).reason == "too_small"
    assert assess(detection(100, 1.0), flat, config).reason == "too_blurred"
    assert assess(detection(100, 1.0), sharp, config).reason == "turned_away"
    quality = assess(detection(100, 0.0), sharp, config)
    assert quality.ok and quality.reason is None
