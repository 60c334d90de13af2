"""Aligned real faces for the training tests, detected once per session in photos shipped by packages."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces.align import align_face
from detector.faces.mesh import FaceMesh
from detector.faces.retinaface import RetinaFaceDetector
from detector.model.registry import INPUT_SIZE
from detector.training.cache import PrepareConfig, prepare
from detector.training.sources import discover
from tests.helpers.media import MissingMedia, package_file, photo


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


def package_photo_cache(root: Path, config: PrepareConfig) -> Path:
    """A cache prepared from two package photos, one folder (group) each: person0 = scikit-image's
    astronaut, person1 = InsightFace's six-person t1.jpg. Skips when the photos are unavailable."""
    try:
        photos = [package_file("skimage", "data/astronaut.png"), package_file("insightface", "data/images/t1.jpg")]
    except MissingMedia as exc:
        pytest.skip(str(exc))
    for k, source in enumerate(photos):
        (root / f"src/person{k}").mkdir(parents=True)
        shutil.copy(source, root / f"src/person{k}" / source.name)
    prepare(discover(root / "src"), RetinaFaceDetector(RetinaFaceConfig.model_validate({})), root / "cache", config)
    return root / "cache"
