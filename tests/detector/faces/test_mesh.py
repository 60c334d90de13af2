"""The 468-point face mesh: loads from the installed wheel with the network shut, finds real faces in the
package photos (points on the face, mouth below the eyes), follows a rotated face, doubts non-faces,
and says in one line what to install when its model file is missing."""

from __future__ import annotations

import importlib.metadata
import socket
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces import mesh as mesh_module
from detector.faces.mesh import INSTALL_MODEL, FaceMesh, MeshError, find_model, region_matrix
from detector.faces.mesh_topology import LIPS_OUTER, POINTS, eye_centres, interocular, mouth_opening
from detector.faces.retinaface import RetinaFaceDetector
from detector.types import Detection
from tests.helpers.media import MissingMedia, photo


@pytest.fixture(scope="module")
def mesh() -> Iterator[FaceMesh]:
    """The mesh, loaded while every attempt to open a network connection fails."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the face mesh tried to reach the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        yield FaceMesh()


def _faces(name: str) -> tuple[np.ndarray, list[Detection]]:
    try:
        image = np.ascontiguousarray(photo(name))
    except MissingMedia as exc:
        pytest.skip(str(exc))
    return image, _detect(image)


def _detect(image: np.ndarray) -> list[Detection]:
    return RetinaFaceDetector(RetinaFaceConfig.model_validate({})).detect(image)


@pytest.mark.parametrize("name", ["hopper", "astronaut", "group"])
def test_finds_the_mesh_of_real_faces_in_package_photos(mesh: FaceMesh, name: str) -> None:
    image, faces = _faces(name)
    assert faces
    for face in faces:
        found = mesh.run(image, face.keypoints)
        points, box = found.points, face.box
        assert points.shape == (POINTS, 2) and points.dtype == np.float32
        assert found.presence > 0.99
        # On the face: nearly all points inside the detector's box, none more than a tenth of it outside
        # (the mesh's forehead and jaw line reach a little past the box's edge).
        margin = 0.1 * box.width
        x, y = points[:, 0], points[:, 1]
        inside = (x >= box.x1) & (x <= box.x2) & (y >= box.y1) & (y <= box.y2)
        assert inside.mean() >= 0.9
        assert x.min() >= box.x1 - margin and x.max() <= box.x2 + margin
        assert y.min() >= box.y1 - margin and y.max() <= box.y2 + margin
        # The parts land where the detector's keypoints say: mouth below the eyes, eyes on the eyes.
        eyes = eye_centres(points)
        assert points[list(LIPS_OUTER), 1].mean() > eyes[:, 1].max() + 0.5 * interocular(points)
        assert np.linalg.norm(eyes - face.keypoints[:2], axis=1).max() < 0.25 * interocular(points)


def test_a_rotated_face_gets_the_same_mesh_rotated(mesh: FaceMesh) -> None:
    image, faces = _faces("astronaut")
    upright = mesh.run(image, faces[0].keypoints).points
    centre = (image.shape[1] / 2, image.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, 35, 1.0)
    rotated = cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]))
    result = mesh.run(rotated, _detect(rotated)[0].keypoints)
    expected = upright @ matrix[:, :2].T + matrix[:, 2]
    # The region is turned upright before the model sees it, and the points are turned back.
    assert result.presence > 0.99
    assert np.abs(result.points - expected).mean() < 0.05 * interocular(upright)


def test_the_region_puts_the_eyes_level_and_the_face_in_the_middle(mesh: FaceMesh) -> None:
    _, faces = _faces("hopper")
    kps = faces[0].keypoints
    matrix = region_matrix(kps)
    inside = kps @ matrix[:, :2].T + matrix[:, 2]
    assert inside[0, 1] == pytest.approx(inside[1, 1], abs=1e-6)
    assert np.all((inside > 0.25 * 192) & (inside < 0.75 * 192))


def test_no_face_gets_a_low_presence(mesh: FaceMesh) -> None:
    keypoints = np.array([[120, 130], [180, 130], [150, 160], [125, 190], [175, 190]], np.float32)
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    assert mesh.run(noise, keypoints).presence < 0.5
    assert mesh.run(np.full((300, 300, 3), 128, np.uint8), keypoints).presence < 0.5


def test_mouth_opening_tells_an_open_mouth_from_a_closed_one(mesh: FaceMesh) -> None:
    # Grace Hopper's mouth is closed; the astronaut smiles with her teeth showing.
    closed, (hopper, *_) = _faces("hopper")
    open_, (astronaut, *_) = _faces("astronaut")
    assert mouth_opening(mesh.run(closed, hopper.keypoints).points) < 0.05
    assert mouth_opening(mesh.run(open_, astronaut.keypoints).points) > 0.1


def test_the_model_file_is_found_in_the_installed_wheel() -> None:
    path = find_model()
    assert path.name == "face_landmark.tflite" and path.stat().st_size > 500_000


def test_a_missing_model_file_is_one_line_naming_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mesh_module.importlib.metadata, "files", absent)
    with pytest.raises(MeshError) as info:
        FaceMesh()
    message = str(info.value)
    assert INSTALL_MODEL in message and "\n" not in message


def test_a_configured_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="face mesh model not found: .*nope.tflite"):
        FaceMesh(tmp_path / "nope.tflite")


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(MeshError, match="cannot load face mesh model"):
        FaceMesh(junk)


def test_loading_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # LiteRT's runtime announces its CPU delegate on file descriptor 2; `analyze` output must stay clean.
    FaceMesh()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
