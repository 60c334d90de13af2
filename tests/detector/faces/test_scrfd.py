"""The optional SCRFD backend never downloads: without a usable local model file it says so clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import RetinaFaceConfig, ScrfdConfig
from detector.faces.base import FaceDetectorError
from detector.faces.factory import build_detector
from detector.faces.retinaface import RetinaFaceDetector


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FaceDetectorError, match="not found.*nothing is downloaded"):
        build_detector(ScrfdConfig(model_path=tmp_path / "scrfd_10g.onnx"))


def test_model_file_that_is_not_onnx(tmp_path: Path) -> None:
    junk = tmp_path / "scrfd.onnx"
    junk.write_text("not a model")

    with pytest.raises(FaceDetectorError, match="cannot load SCRFD model"):
        build_detector(ScrfdConfig(model_path=junk))


def test_default_backend_is_the_bundled_retinaface() -> None:
    assert isinstance(build_detector(RetinaFaceConfig()), RetinaFaceDetector)
