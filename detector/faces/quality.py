"""Quality gate: faces too small, too blurred or turned too far are not judged (state `abstain`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from detector.config import ScoringConfig
from detector.types import AlignedFace, Detection, Quality


def yaw_degrees(keypoints: np.ndarray) -> float:
    """Rough yaw from how far the nose sits from the eyes' midpoint, relative to half the eye distance."""
    left, right, nose = keypoints[0], keypoints[1], keypoints[2]
    half = float(np.linalg.norm(right - left)) / 2
    if half < 1e-6:
        return 90.0
    offset = float(nose[0] - (left[0] + right[0]) / 2) / half
    # A frontal face has the nose on the midline; at ~60° the nose reaches the outer eye.
    return math.degrees(math.asin(max(-1.0, min(1.0, offset * 0.87))))


def sharpness(crop: np.ndarray) -> float:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    centre = grey[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]  # the face, not the black border
    return float(cv2.Laplacian(centre, cv2.CV_64F).var())


def assess(detection: Detection, face: AlignedFace, config: ScoringConfig) -> Quality:
    """Measure a face and say whether it is good enough to be scored."""
    size = min(detection.box.width, detection.box.height)
    sharp = sharpness(face.crop)
    yaw = yaw_degrees(detection.keypoints)
    reason = None
    if size < config.min_face_px:
        reason = "too_small"
    elif sharp < config.min_sharpness:
        reason = "too_blurred"
    elif abs(yaw) > config.max_yaw_deg:
        reason = "turned_away"
    return Quality(size_px=size, sharpness=sharp, yaw_deg=yaw, ok=reason is None, reason=reason)
