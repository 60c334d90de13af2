"""JPEG pictures for the dashboard: the latest analyzed frame and the latest aligned crop of a face."""

from __future__ import annotations

import cv2
import numpy as np

FACE_SIZE = 96  # px; a thumbnail, not the model's input size


def encode_jpeg(image: np.ndarray, quality: int = 80, max_side: int | None = None) -> bytes:
    """BGR image → JPEG bytes, downscaled so its longest side is at most `max_side`."""
    if max_side is not None and max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def face_thumbnail(crop: np.ndarray) -> bytes:
    return encode_jpeg(cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA), quality=85)
