"""Fitting the geometry head: on real meshes whose mouths a "generator" painted differently, the head tells
them apart on faces it did not fit on, and a fake face gets positive log-odds."""

from __future__ import annotations

import numpy as np
import pytest

from detector.faces import mesh_topology as mt
from detector.faces.mesh import FaceMesh
from detector.model.geometry import face_frame
from detector.training.geometry_train import fit_head
from detector.training.metrics import auc
from tests.helpers.media import MissingMedia, package_file


@pytest.fixture(scope="module")
def mesh_points() -> np.ndarray:
    """A real face's mesh (a package photo)."""
    import cv2

    from detector.config import RetinaFaceConfig
    from detector.faces.retinaface import RetinaFaceDetector

    try:
        image = cv2.imread(str(package_file("skimage", "data/astronaut.png")))
    except MissingMedia as exc:
        pytest.skip(str(exc))
    face = RetinaFaceDetector(RetinaFaceConfig.model_validate({})).detect(image)[0]
    return FaceMesh().run(image, face.keypoints).points.astype(np.float64)


def _faces(points: np.ndarray, n: int, fake: bool, rng: np.random.Generator) -> np.ndarray:
    """`n` versions of the face: every point jittered (expression, mesh noise); in fakes the lips are
    also 8 % wider than the face around them, as a mouth painted by another model would be."""
    out = []
    lips = list(mt.LIPS_OUTER + mt.LIPS_INNER)
    eye = mt.interocular(points)
    for _ in range(n):
        p = points + rng.normal(scale=0.02 * eye, size=points.shape)
        if fake:
            centre = p[lips].mean(axis=0)
            p[lips] = centre + (p[lips] - centre) * np.array([1.08, 1.0])
        out.append(face_frame(p))
    return np.stack(out)


def test_head_learns_a_mouth_that_does_not_fit_the_face(mesh_points: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    train = np.concatenate([_faces(mesh_points, 150, False, rng), _faces(mesh_points, 50, True, rng)])
    labels = np.array([0.0] * 150 + [1.0] * 50)  # unbalanced, as real data is: classes are weighted equally
    head = fit_head(train, labels, components=8, l2=1e-3, fuse=1.5)
    test = np.concatenate([_faces(mesh_points, 40, False, rng), _faces(mesh_points, 40, True, rng)])
    logits = head.logits(test)
    assert auc(np.array([0.0] * 40 + [1.0] * 40), logits) > 0.95
    assert np.median(logits[40:]) > 0 > np.median(logits[:40])
    assert head.fuse == 1.5 and head.basis.shape[1] == 8


def test_one_class_is_refused(mesh_points: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="real and fake"):
        fit_head(_faces(mesh_points, 10, False, rng), np.zeros(10), components=4, l2=1e-2, fuse=1.0)
