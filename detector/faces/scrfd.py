"""Optional detector: InsightFace SCRFD (Guo et al., 2021) from a local model file.

InsightFace's model packs are licensed for non-commercial use and are never downloaded here: the
operator points `detector.model_path` at an .onnx file they obtained themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detector.config import ScrfdConfig
from detector.faces.base import FaceDetectorError, to_detections
from detector.types import Detection


class ScrfdDetector:
    """SCRFD through `insightface.model_zoo`, on the CPU."""

    name = "insightface-scrfd"

    def __init__(self, config: ScrfdConfig) -> None:
        path = config.model_path.expanduser()
        if not path.is_file():
            raise FaceDetectorError(
                f"SCRFD model file not found: {path} (set detector.model_path to a local .onnx file; "
                "nothing is downloaded)"
            )
        from insightface.model_zoo import model_zoo

        try:
            model: Any = model_zoo.get_model(str(path), download=False)
        except Exception as exc:  # insightface raises bare Exceptions for unreadable files
            raise FaceDetectorError(f"cannot load SCRFD model {path}: {exc}") from exc
        if model is None or not hasattr(model, "detect"):
            raise FaceDetectorError(f"{path} is not an InsightFace SCRFD detection model")
        size = (config.input_size, config.input_size)
        model.prepare(ctx_id=-1, input_size=size, det_thresh=config.threshold, nms_thresh=config.nms_threshold)
        self._model = model
        self._size = size
        self._threshold = config.threshold

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        # InsightFace's SCRFD reads its threshold from the model object on every call.
        self._model.det_thresh = self._threshold if min_score is None else min_score
        dets, kpss = self._model.detect(image, input_size=self._size)
        if dets is None or len(dets) == 0 or kpss is None:
            return []
        return to_detections(dets[:, :4], kpss, dets[:, 4])
