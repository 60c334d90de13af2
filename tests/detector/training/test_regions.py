"""Face regions cover the parts they name and nothing far from them, from a mesh and from 5 keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from detector.faces.mesh_topology import (
    CHIN,
    FOREHEAD,
    LIPS_OUTER,
    NOSE_TIP,
    eye_centres,
)
from detector.training.regions import Region, region_mask
from tests.detector.training.conftest import AlignedFaces

SIZE = 128


def _at(mask: np.ndarray, point: np.ndarray) -> float:
    x, y = np.clip(np.round(point).astype(int), 0, mask.shape[0] - 1)
    return float(mask[y, x])


@pytest.mark.parametrize("k", [0, 3, 6])
def test_mesh_regions_cover_their_parts_and_leave_the_others(aligned_faces: AlignedFaces, k: int) -> None:
    mesh = aligned_faces.meshes[k]
    eyes, mouth = eye_centres(mesh), mesh[list(LIPS_OUTER)].mean(axis=0)

    def mask(region: Region) -> np.ndarray:
        return region_mask(region, SIZE, None, mesh)

    assert _at(mask(Region.MOUTH), mouth) == 1.0
    assert _at(mask(Region.MOUTH), mesh[NOSE_TIP]) == 0.0 and _at(mask(Region.MOUTH), mesh[CHIN]) == 0.0
    assert all(_at(mask(Region.EYES), e) == 1.0 for e in eyes) and _at(mask(Region.EYES), mouth) == 0.0
    lower = mask(Region.LOWER)
    assert _at(lower, mouth) == 1.0 and _at(lower, mesh[CHIN]) > 0
    assert all(_at(lower, e) == 0.0 for e in eyes)
    inner = mask(Region.INNER)
    assert all(_at(inner, p) == 1.0 for p in (*eyes, mouth, mesh[NOSE_TIP]))
    assert _at(inner, mesh[234]) == 0.0 and _at(inner, mesh[454]) == 0.0  # the face's sides at the cheekbones
    face = mask(Region.FACE)
    assert all(_at(face, p) == 1.0 for p in (*eyes, mouth, mesh[NOSE_TIP]))
    assert _at(face, mesh[FOREHEAD]) > 0 and float(face.sum()) > float(inner.sum()) > float(lower.sum())
    # Outside the face oval (grown by the softening) every region is exactly 0.
    oval = region_mask(Region.FACE, SIZE, None, mesh, grow=0.3)
    for region in Region:
        assert not mask(region)[oval == 0].any(), region


@pytest.mark.parametrize("k", [0, 3, 6])
def test_without_a_mesh_regions_are_placed_by_the_five_keypoints(aligned_faces: AlignedFaces, k: int) -> None:
    kps = aligned_faces.keypoints[k]
    mouth = kps[3:].mean(axis=0)
    assert _at(region_mask(Region.MOUTH, SIZE, kps), mouth) == 1.0
    assert _at(region_mask(Region.MOUTH, SIZE, kps), kps[2]) == 0.0
    assert all(_at(region_mask(Region.EYES, SIZE, kps), e) == 1.0 for e in kps[:2])
    lower = region_mask(Region.LOWER, SIZE, kps)
    assert _at(lower, mouth) == 1.0 and all(_at(lower, e) == 0.0 for e in kps[:2])
    assert all(_at(region_mask(Region.INNER, SIZE, kps), p) == 1.0 for p in kps)
    assert all(_at(region_mask(Region.FACE, SIZE, kps), p) == 1.0 for p in kps)


def test_growing_and_softening_spread_the_mask_a_bounded_way(aligned_faces: AlignedFaces) -> None:
    kps, mesh = aligned_faces.keypoints[0], aligned_faces.meshes[0]
    hard = region_mask(Region.MOUTH, SIZE, kps, mesh)
    soft = region_mask(Region.MOUTH, SIZE, kps, mesh, grow=0.2, feather=0.2)
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert soft.sum() > hard.sum() and soft.min() + 1e-9 > 0 and soft.max() <= 1.0
    assert ((soft > 0) & (soft < 1)).any()  # a soft edge
    far = region_mask(Region.MOUTH, SIZE, kps, mesh, grow=0.6) == 0
    assert not soft[far].any()


def test_a_region_needs_a_mesh_or_keypoints() -> None:
    with pytest.raises(ValueError, match="mesh or the 5 keypoints"):
        region_mask(Region.MOUTH, SIZE, None, None)
