"""Warp-blend pseudo-fakes change only what they claim to: pixels inside the mask, by a geometric warp
(no colour change), drifting over a clip; and sharpness matching softens only the sharper crop."""

from __future__ import annotations

import numpy as np
import pytest

from detector.training.augment import match_sharpness, rescale, sharpness
from detector.training.pseudo import sample_warp_params, warp_blend, warp_blend_clip, warp_field
from tests.detector.training.conftest import AlignedFaces


@pytest.mark.parametrize("seed", range(8))
def test_warp_blend_leaves_pixels_outside_its_mask_untouched(aligned_faces: AlignedFaces, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = seed % len(aligned_faces.crops)
    result = warp_blend(aligned_faces.crops[k], aligned_faces.keypoints[k], sample_warp_params(rng))
    changed = np.any(result.fake != result.real, axis=2)
    assert changed.any()
    assert not changed[result.mask == 0].any()
    assert result.real is aligned_faces.crops[k]


def test_warp_moves_pixels_but_keeps_the_colours(aligned_faces: AlignedFaces) -> None:
    params = sample_warp_params(np.random.default_rng(3))
    crop = aligned_faces.crops[0]
    result = warp_blend(crop, aligned_faces.keypoints[0], params)
    inside = result.mask > 0.9
    # A warp resamples the face: mean colour inside the mask stays within a few levels.
    shift = np.abs(result.fake[inside].mean(axis=0) - crop[inside].mean(axis=0))
    assert shift.max() < 4.0
    # Two fields mixed by cos/sin, cubic-upsampled: the displacement stays within twice the amplitude.
    assert np.abs(warp_field(crop.shape[0], params)).max() <= 2 * params.amplitude * crop.shape[0] / 128


def test_warp_drifts_over_a_clip(aligned_faces: AlignedFaces) -> None:
    crops = [aligned_faces.crops[0]] * 6
    keypoints = [aligned_faces.keypoints[0]] * 6
    clip = warp_blend_clip(crops, keypoints, np.random.default_rng(5))
    assert clip.labels.tolist() == [1.0] * 6
    # The same still, frame after frame: only the drifting warp makes the fakes differ from each other.
    assert not np.array_equal(clip.fake[0], clip.fake[5])
    assert all(np.array_equal(r, crops[0]) for r in clip.real)


def test_sharpness_matching_softens_only_the_sharper_crop(aligned_faces: AlignedFaces) -> None:
    sharp = aligned_faces.crops[0]
    soft = rescale(sharp, 0.5)  # what a face half the size looks like after upscaling
    a, b = match_sharpness(sharp, soft)
    assert b is soft
    assert sharpness(a) <= 1.25 * sharpness(soft) < sharpness(sharp)
    b2, a2 = match_sharpness(soft, sharp)  # either order
    assert b2 is soft and sharpness(a2) <= 1.25 * sharpness(soft)
    same_a, same_b = match_sharpness(sharp, sharp)
    assert same_a is sharp and same_b is sharp
