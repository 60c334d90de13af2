"""The geometry head: the face frame ignores where and how large the face is, points map into the crop
through the alignment, the head survives the checkpoint, and a checkpoint with it loads and drops the
calibration that fitted the CNN alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.faces.align import align_face
from detector.faces.mesh import FaceMesh
from detector.model.errors import ModelLoadError
from detector.model.geometry import FEATURES, POINTS, GeometryError, GeometryHead, face_frame
from detector.model.registry import BUNDLED_WEIGHTS, load_model, with_geometry
from detector.types import MeshLandmarks
from tests.helpers.media import MissingMedia, package_file


@pytest.fixture(scope="module")
def photo_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A package photo, its mesh in frame pixels and the detector's 5 keypoints."""
    import cv2

    try:
        image = cv2.imread(str(package_file("skimage", "data/astronaut.png")))
    except MissingMedia as exc:
        pytest.skip(str(exc))
    from detector.config import RetinaFaceConfig
    from detector.faces.retinaface import RetinaFaceDetector

    face = RetinaFaceDetector(RetinaFaceConfig.model_validate({})).detect(image)[0]
    mesh = FaceMesh().run(image, face.keypoints)
    assert mesh is not None
    return image, mesh.points.astype(np.float64), np.asarray(face.keypoints, np.float64)


def _head(k: int = 3, seed: int = 0) -> GeometryHead:
    rng = np.random.default_rng(seed)
    return GeometryHead(
        mean=rng.normal(size=FEATURES),
        scale=rng.uniform(0.5, 2, FEATURES),
        basis=rng.normal(size=(FEATURES, k)),
        weight=rng.normal(size=k),
        bias=0.3,
        fuse=2.0,
        info={"recipe": {"components": k}},
    )


def test_face_frame_ignores_position_and_size(photo_mesh) -> None:
    _, points, _ = photo_mesh
    base = face_frame(points)
    assert base.shape == (FEATURES,) == (2 * len(POINTS),)
    assert np.allclose(face_frame(points * 1.5 + np.array([40.0, -7.0])), base)


def test_frame_points_map_into_the_aligned_crop_as_the_crop_s_own_mesh_would_place_them(photo_mesh) -> None:
    image, points, keypoints = photo_mesh
    aligned = align_face(image, keypoints, 192, 0.9)
    mapped = MeshLandmarks(points, 1.0).transformed(aligned.matrix).points
    # The mesh found on the crop itself agrees with the frame's mesh carried into the crop.
    on_crop = FaceMesh().run(aligned.crop, aligned.keypoints)
    assert on_crop is not None
    eye = float(np.linalg.norm(aligned.keypoints[1] - aligned.keypoints[0]))
    assert np.median(np.linalg.norm(on_crop.points - mapped, axis=1)) < 0.05 * eye
    # The same face aligned at another size gives the same face-frame features.
    small = align_face(image, keypoints, 128, 0.9)
    resized = MeshLandmarks(points, 1.0).transformed(small.matrix).points
    assert np.allclose(face_frame(resized), face_frame(mapped), atol=1e-6)


def test_head_round_trips_and_rejects_a_head_for_other_points(photo_mesh) -> None:
    _, points, _ = photo_mesh
    head = _head()
    again = GeometryHead.from_dict(head.as_dict())
    assert again.logit(points) == pytest.approx(head.logit(points))
    assert again.fuse == 2.0 and again.info == head.info
    stale = {**head.as_dict(), "points": list(POINTS[:-1])}
    with pytest.raises(GeometryError):
        GeometryHead.from_dict(stale)
    short = {**head.as_dict(), "mean": [0.0] * 4}
    with pytest.raises(GeometryError):
        GeometryHead.from_dict(short)


def test_logit_is_the_standardised_projection_through_the_logistic_unit(photo_mesh) -> None:
    _, points, _ = photo_mesh
    head = _head()
    x = face_frame(points)
    expected = ((x - head.mean) / head.scale) @ head.basis @ head.weight + head.bias
    assert head.logit(points) == pytest.approx(expected)


def test_checkpoint_with_geometry_loads_it_and_drops_the_cnn_s_calibration(tmp_path: Path) -> None:
    if not BUNDLED_WEIGHTS.is_file():
        pytest.skip("no bundled weights")
    assert not load_model(None).calibration.identity  # the bundled model is calibrated
    out = tmp_path / "geo.pt"
    with_geometry(None, out, _head(), threshold=0.42)
    model = load_model(out)
    assert model.geometry is not None and model.geometry.fuse == 2.0
    assert model.threshold == 0.42
    assert model.calibration.identity and model.alert == {}  # refit with `calibrate`
    assert load_model(None).geometry is None


def test_a_broken_geometry_head_is_a_clear_load_error(tmp_path: Path) -> None:
    if not BUNDLED_WEIGHTS.is_file():
        pytest.skip("no bundled weights")
    import torch

    payload = torch.load(BUNDLED_WEIGHTS, map_location="cpu", weights_only=False)
    payload["geometry"] = {**_head().as_dict(), "basis": [[0.0]]}
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ModelLoadError, match="geometry head"):
        load_model(tmp_path / "bad.pt")
