"""Aligned real faces for the training tests, detected once per session in photos shipped by packages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces.align import align_face
from detector.faces.mesh import FaceMesh
from detector.faces.retinaface import RetinaFaceDetector
from detector.model.registry import INPUT_SIZE
from tests.helpers.media import MissingMedia, photo


@dataclass(frozen=True)
class AlignedFaces:
    crops: list[np.ndarray]
    keypoints: list[np.ndarray]
    meshes: list[np.ndarray]  # (468, 2) in crop pixels, run on the photo as `prepare` does


@pytest.fixture(scope="session")
def aligned_faces() -> AlignedFaces:
    """The faces of InsightFace's six-person photo and scikit-image's astronaut, aligned like training."""
    try:
        images = [photo("group"), photo("astronaut")]
    except MissingMedia as exc:
        pytest.skip(f"face photos unavailable: {exc}")
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    mesh = FaceMesh()
    crops, keypoints, meshes = [], [], []
    for image in images:
        for det in detector.detect(np.ascontiguousarray(image)):
            aligned = align_face(image, det.keypoints, INPUT_SIZE)
            crops.append(aligned.crop)
            keypoints.append(aligned.keypoints)
            meshes.append(mesh.run(image, det.keypoints).transformed(aligned.matrix).points)
    assert len(crops) >= 7
    return AlignedFaces(crops, keypoints, meshes)
