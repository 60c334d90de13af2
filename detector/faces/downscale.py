"""One small copy of each analyzed frame, shared by every step that does not need full resolution.

The scene-cut check, the optical flow between detector runs and the detector itself all look at a
downscaled frame. On a 720p frame each used to make its own (a resize plus a full-size grey
conversion cost about as much as the flow itself), so the copy is made once per frame here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from detector.types import Box, Detection


@dataclass(frozen=True)
class Downscaled:
    """A frame shrunk so its longest side is at most the detector's working size."""

    image: np.ndarray = field(repr=False)  # BGR uint8
    scale: float  # small = full * scale (1.0 when the frame was small already)

    @cached_property
    def grey(self) -> np.ndarray:
        """Grey copy for optical flow and the scene-cut histogram, made on first use."""
        return cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)

    def to_full(self, detections: list[Detection], origin: tuple[int, int] = (0, 0)) -> list[Detection]:
        """Detections found on the small copy, or on a window of it whose top-left corner is `origin`,
        in the full frame's pixels."""
        if self.scale == 1.0 and origin == (0, 0):
            return detections
        dx, dy = origin
        k = 1.0 / self.scale
        return [
            Detection(
                box=Box((d.box.x1 + dx) * k, (d.box.y1 + dy) * k, (d.box.x2 + dx) * k, (d.box.y2 + dy) * k),
                keypoints=((d.keypoints + np.array([dx, dy], np.float32)) * k).astype(np.float32),
                score=d.score,
            )
            for d in detections
        ]


def downscale(image: np.ndarray, side: int) -> Downscaled:
    """`image` shrunk (area averaging) to a longest side of at most `side` pixels."""
    scale = min(1.0, side / max(image.shape[:2]))
    if scale == 1.0:
        return Downscaled(image, 1.0)
    return Downscaled(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale)
