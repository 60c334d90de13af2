"""The bundled RetinaFace backend on real photos: faces found, keypoints in order, boxes in image pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces.base import nms
from detector.faces.retinaface import RetinaFaceDetector, load_weights
from detector.pipeline import Analyzer
from detector.types import Detection
from tests.helpers.media import FACE_BOXES, background, photo


def check_keypoints(face: Detection) -> None:
    left_eye, right_eye, nose, left_mouth, right_mouth = face.keypoints
    assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]  # image left = the person's right
    assert max(left_eye[1], right_eye[1]) < nose[1] < max(left_mouth[1], right_mouth[1])
    b = face.box
    assert ((face.keypoints >= [b.x1, b.y1]) & (face.keypoints <= [b.x2, b.y2])).all()


@pytest.mark.parametrize(("name", "count"), [("hopper", 1), ("astronaut", 1), ("hanks", 1), ("group", 6)])
def test_finds_every_face_in_packaged_photos(analyzer: Analyzer, name: str, count: int) -> None:
    faces = analyzer.detector.detect(photo(name))

    assert len(faces) == count
    for face in faces:
        assert face.score >= 0.85 and face.keypoints.shape == (5, 2)
        check_keypoints(face)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_finds_nothing_in_a_faceless_picture(analyzer: Analyzer) -> None:
    assert analyzer.detector.detect(np.ascontiguousarray(background())) == []


def test_boxes_are_in_the_pixels_of_a_downscaled_frame() -> None:
    # A 2048 px frame is detected at max_side 640; boxes must come back in the frame's own pixels.
    detector = RetinaFaceDetector(RetinaFaceConfig(max_side=640))
    big = cv2.resize(photo("hopper"), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)

    (face,) = detector.detect(big)

    expected = 4 * np.array(FACE_BOXES["hopper"])
    actual = np.array([face.box.x1, face.box.y1, face.box.x2, face.box.y2])
    assert np.abs(actual - expected).max() < 0.05 * (expected[2] - expected[0])


def test_threshold_is_applied() -> None:
    strict = RetinaFaceDetector(RetinaFaceConfig(threshold=1.0))

    assert strict.detect(photo("group")) == []


def test_weights_come_from_the_installed_package() -> None:
    weights = load_weights()

    assert len(weights) > 1_000_000  # MobileNet-0.25 RetinaFace is 1.7 MB


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.8, 0.9, 0.7], np.float32)

    assert nms(boxes, scores, 0.4) == [1, 2]
