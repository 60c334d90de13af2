"""Self-blended fakes: changes stay inside the mask, the mask stays on the face."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from detector.faces.mesh_topology import CHIN, LEFT_EYE, LIPS_OUTER, NOSE, RIGHT_EYE, eye_centres, interocular
from detector.training.face_shape import face_outline, mesh_outline
from detector.training.synthesis import MaskShape, blend, blend_clip, draw_mask, hull_polygon, sample_blend_params
from tests.detector.training.conftest import AlignedFaces


@pytest.mark.parametrize("seed", range(12))
def test_fake_differs_from_real_only_inside_the_mask(aligned_faces: AlignedFaces, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = seed % len(aligned_faces.crops)
    result = blend(aligned_faces.crops[k], aligned_faces.keypoints[k], sample_blend_params(rng))
    changed = np.any(result.fake != result.real, axis=2)
    assert changed.any()
    assert not changed[result.mask == 0].any()


@pytest.mark.parametrize("seed", range(12))
def test_mask_lies_inside_the_face_hull(aligned_faces: AlignedFaces, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    k = seed % len(aligned_faces.crops)
    params = sample_blend_params(rng)
    keypoints = aligned_faces.keypoints[k]
    result = blend(aligned_faces.crops[k], keypoints, params)
    hull = np.zeros(result.mask.shape, np.uint8)
    polygon = hull_polygon(face_outline(keypoints), params.mask)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(polygon).astype(np.int32)), 1)
    # Softening reaches past the hard hull by at most the elastic displacement plus the blur radius.
    reach = int(np.ceil(params.mask.elastic_alpha)) + params.mask.blur_kernel // 2 + 1
    grown = cv2.dilate(hull, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    assert not (result.mask[grown == 0] > 1e-3).any()
    nose = np.round(keypoints[2]).astype(int)
    assert result.mask[nose[1], nose[0]] > 0  # the mask covers the face, not just lies near it


def test_whole_face_hull_contains_the_keypoints(aligned_faces: AlignedFaces) -> None:
    outline = face_outline(aligned_faces.keypoints[0])
    hull = cv2.convexHull(outline.hull_points().astype(np.float32))
    for point in aligned_faces.keypoints[0]:
        assert cv2.pointPolygonTest(hull, (float(point[0]), float(point[1])), False) > 0
    assert set(MaskShape) >= {MaskShape.WHOLE, MaskShape.INNER, MaskShape.RAISED}


def test_clip_keeps_real_frames_identical_where_labelled_real(aligned_faces: AlignedFaces) -> None:
    crops = [aligned_faces.crops[0]] * 8
    keypoints = [aligned_faces.keypoints[0] + np.float32(0.3 * t) for t in range(8)]
    for seed in range(40):
        clip = blend_clip(crops, keypoints, np.random.default_rng(seed))
        assert len(clip.fake) == len(clip.real) == len(clip.masks) == 8
        for t in range(8):
            if clip.labels[t] == 0:
                assert np.array_equal(clip.fake[t], clip.real[t])
            else:
                assert not np.any((clip.fake[t] != clip.real[t]).any(axis=2) & (clip.masks[t] == 0))


@pytest.mark.parametrize("seed", range(6))
def test_masks_scale_with_the_crop_size(aligned_faces: AlignedFaces, seed: int) -> None:
    # Pixel parameters are drawn for 128 px crops: a 192 px crop of the same face gets the same mask, finer.
    params = sample_blend_params(np.random.default_rng(200 + seed)).mask
    keypoints = aligned_faces.keypoints[seed % len(aligned_faces.keypoints)]
    small = draw_mask(keypoints, params, 128)
    large = draw_mask(keypoints * 1.5, params, 192)
    shrunk = cv2.resize(large, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - small).mean() < 0.01 * max(params.ratio, 0.25)
    assert abs(float(shrunk.sum()) - float(small.sum())) < 0.03 * float(small.sum())


@pytest.mark.parametrize("seed", range(8))
def test_blends_with_a_mesh_change_only_the_pixels_inside_the_mask(aligned_faces: AlignedFaces, seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    k = seed % len(aligned_faces.crops)
    params = sample_blend_params(rng)
    result = blend(aligned_faces.crops[k], aligned_faces.keypoints[k], params, aligned_faces.meshes[k])
    changed = np.any(result.fake != result.real, axis=2)
    assert changed.any()
    assert not changed[result.mask == 0].any()


def test_the_mesh_mask_is_the_hull_of_the_face_s_own_landmarks(aligned_faces: AlignedFaces) -> None:
    crop, keypoints, mesh = aligned_faces.crops[0], aligned_faces.keypoints[0], aligned_faces.meshes[0]
    params = replace(sample_blend_params(np.random.default_rng(0)).mask, shape=MaskShape.WHOLE)
    polygon = hull_polygon(mesh_outline(mesh, keypoints), params, mesh)
    hull = cv2.convexHull(polygon.astype(np.float32))
    # SBI's mask: the jaw line and brows (the 68-point hull), so eyes, nose and lips lie inside it...
    for index in (*RIGHT_EYE, *LEFT_EYE, *NOSE, *LIPS_OUTER):
        assert cv2.pointPolygonTest(hull, tuple(float(v) for v in mesh[index]), True) > -1.0
    # ...and its edge runs along the face's own jaw (the chin point is on it, not a mean outline's guess).
    assert abs(cv2.pointPolygonTest(hull, tuple(float(v) for v in mesh[CHIN]), True)) < 1.0
    raised = hull_polygon(mesh_outline(mesh, keypoints), replace(params, shape=MaskShape.RAISED, brow_lift=0.5), mesh)
    assert raised[:, 1].min() < polygon[:, 1].min() - 0.4 * interocular(mesh)  # lifted onto the forehead
    assert draw_mask(keypoints, params, crop.shape[0], mesh).shape == crop.shape[:2]


def test_the_lower_face_mask_from_a_mesh_leaves_the_eyes_alone(aligned_faces: AlignedFaces) -> None:
    keypoints, mesh = aligned_faces.keypoints[1], aligned_faces.meshes[1]
    params = replace(sample_blend_params(np.random.default_rng(1)).mask, shape=MaskShape.LOWER, elastic_alpha=0.0)
    mask = draw_mask(keypoints, params, aligned_faces.crops[1].shape[0], mesh)
    eye_row = int(np.ceil(eye_centres(mesh)[:, 1].max()))
    assert not mask[:eye_row].any()
    mouth = np.round(mesh[list(LIPS_OUTER)].mean(axis=0)).astype(int)
    assert mask[mouth[1], mouth[0]] > 0.5 * params.ratio
