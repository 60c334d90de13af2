"""Re-detects faces already being followed by running the detector only around each of them.

Optical flow drifts, so the detector must look at followed faces every few frames to put their
keypoints back where they are (the crop the model sees depends on them). Looking at the whole frame
for that costs as much as finding new faces; a square window around each followed face costs a
fraction (on a 720p frame with two faces, ≈ 3 ms against ≈ 8 ms), so the full-frame scan, the only
way to find faces that walk in, runs less often (`analysis.scan_every`).
"""

from __future__ import annotations

import math

import numpy as np

from detector.faces.base import FaceDetector
from detector.faces.downscale import Downscaled
from detector.types import Box, Detection

_CONTEXT = 2.0  # window side in face-box sides: the detector needs context around the face
_MIN_SIDE = 160  # small-copy pixels; a tiny face needs surrounding picture to be found again
_MAX_AREA = 0.5  # windows covering more than this share of the frame: one full scan is cheaper
_MIN_IOU = 0.3  # a re-detection must overlap the followed box at least this much


def redetect(
    detector: FaceDetector, frame: Downscaled, followed: list[Detection], min_score: float
) -> list[Detection] | None:
    """Each followed face re-detected in a window around it (full-frame pixels, same order), or None
    when a face is not found again or the windows are so large that a full scan is the better buy.

    `min_score` is lower than a new face needs: the window holds less context than the whole frame
    (small faces score lower in it), and the face was there a moment ago."""
    height, width = frame.image.shape[:2]
    windows = [_window(face.box, frame.scale, width, height) for face in followed]
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows) > _MAX_AREA * width * height:
        return None
    found = []
    for face, (x0, y0, x1, y1) in zip(followed, windows, strict=True):
        crop = np.ascontiguousarray(frame.image[y0:y1, x0:x1])
        best = _best_match(face.box, frame.to_full(detector.detect(crop, min_score), origin=(x0, y0)))
        if best is None:
            return None
        found.append(best)
    return found


def _window(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square around the face in small-copy pixels, moved inside the frame.

    Its side is not rounded to the detector's stride: rounding up put the face off-centre in the
    window's anchor grid and moved eye keypoints ≈ 1 % of the face width down, against 0.3 % unrounded.
    """
    side = max(_MIN_SIDE, math.ceil(_CONTEXT * max(box.width, box.height) * scale))
    cx, cy = (box.x1 + box.x2) / 2 * scale, (box.y1 + box.y2) / 2 * scale
    x0 = min(max(0, round(cx - side / 2)), max(0, width - side))
    y0 = min(max(0, round(cy - side / 2)), max(0, height - side))
    return x0, y0, min(width, x0 + side), min(height, y0 + side)


def _best_match(box: Box, candidates: list[Detection]) -> Detection | None:
    """The candidate that is this face: most overlap with where the flow put it. A neighbour's face
    cut by the window's edge overlaps little and is left to the full scans."""
    scored = [(box.iou(d.box), d) for d in candidates]
    overlap, best = max(scored, key=lambda s: s[0], default=(0.0, None))
    return best if overlap >= _MIN_IOU else None
