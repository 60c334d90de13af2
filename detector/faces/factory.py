"""Builds the configured face detector backend."""

from __future__ import annotations

from detector.config import DetectorConfig, RetinaFaceConfig
from detector.faces.base import FaceDetector


def build_detector(config: DetectorConfig) -> FaceDetector:
    if isinstance(config, RetinaFaceConfig):
        from detector.faces.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(config)
    from detector.faces.scrfd import ScrfdDetector

    return ScrfdDetector(config)
