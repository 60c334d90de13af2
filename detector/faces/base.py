"""The detector protocol every face backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from detector.types import Box, Detection


class FaceDetectorError(RuntimeError):
    """A backend cannot be loaded (missing model file, unreadable weights)."""


class FaceDetector(Protocol):
    """Finds faces with 5 keypoints in a BGR uint8 image."""

    name: str

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        """Faces in `image`, highest confidence first, in the image's own pixel coordinates.

        `min_score` replaces the configured confidence threshold for this call (re-finding a face
        that is already being followed needs less evidence than finding a new one).
        """
        ...


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression over (N, 4) x1y1x2y2 boxes; returns kept indices, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def to_detections(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """Package arrays (N,4), (N,5,2), (N,) as Detection values."""
    return [
        Detection(
            box=Box(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            keypoints=np.asarray(k, dtype=np.float32).reshape(5, 2),
            score=float(s),
        )
        for b, k, s in zip(boxes, keypoints, scores, strict=True)
    ]
