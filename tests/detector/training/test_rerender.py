"""Re-rendered pseudo-fakes change only what they claim to: a region blend only inside its mask, a
whole-crop re-rendering the whole crop; clips keep one network and region; the training hooks use them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.model.network import DeepfakeNet
from detector.model.views import ViewSpec
from detector.training.autoencoder import WeightsError
from detector.training.cache import CachedFace
from detector.training.clips import PostProcessing, make_clip_pair
from detector.training.data import Face, FacePool
from detector.training.frames import FakeMix, PairSampler
from detector.training.rerender import (
    keep_colour,
    load_rerenderers,
    random_rerender,
    rerender,
    rerender_blend,
    rerender_clip,
    sample_rerender_params,
)
from detector.training.synthesis import MaskShape
from detector.training.temporal import build_bank
from detector.training.train import TrainConfig, _recipe
from tests.detector.training.conftest import AlignedFaces


def _region_params(seed: int, shape: MaskShape):
    """Random region re-rendering params, with the region forced to `shape`."""
    models = load_rerenderers()
    rng = np.random.default_rng(seed)
    params = sample_rerender_params(rng, models.names)
    while params.mask is None:
        params = sample_rerender_params(rng, models.names)
    return replace(params, mask=replace(params.mask, shape=shape))


@pytest.mark.parametrize("shape", list(MaskShape))
@pytest.mark.parametrize("seed", range(3))
def test_region_rerendering_changes_only_its_region(aligned_faces: AlignedFaces, shape: MaskShape, seed: int) -> None:
    k = (seed + len(shape.value)) % len(aligned_faces.crops)
    crop, keypoints = aligned_faces.crops[k], aligned_faces.keypoints[k]
    result = rerender_blend(crop, keypoints, _region_params(seed, shape), load_rerenderers())
    changed = np.any(result.fake != result.real, axis=2)
    assert result.real is crop
    assert changed.any()
    assert not changed[result.mask == 0].any()
    assert (result.mask == 0).mean() > 0.3  # a region, not the crop


def test_lower_face_rerendering_leaves_the_eyes_alone(aligned_faces: AlignedFaces) -> None:
    crop, keypoints = aligned_faces.crops[0], aligned_faces.keypoints[0]
    result = rerender_blend(crop, keypoints, _region_params(0, MaskShape.LOWER), load_rerenderers())
    changed = np.any(result.fake != result.real, axis=2)
    eye_row = keypoints[:2, 1].mean()
    interocular = float(np.linalg.norm(keypoints[0] - keypoints[1]))
    # The lower-face hull starts below the eyes; its softened edge may reach a little above them.
    assert not changed[: int(eye_row - 0.5 * interocular)].any()
    assert changed[int(round(keypoints[3:, 1].mean()))].any()  # the mouth is re-rendered


def test_whole_crop_rerendering_changes_the_crop(aligned_faces: AlignedFaces) -> None:
    models = load_rerenderers()
    params = replace(sample_rerender_params(np.random.default_rng(0), models.names), mask=None)
    crop = aligned_faces.crops[1]
    result = rerender_blend(crop, aligned_faces.keypoints[1], params, models)
    assert result.fake.shape == crop.shape and result.fake.dtype == np.uint8
    assert np.mean(np.any(result.fake != crop, axis=2)) > 0.5
    assert np.array_equal(result.fake, models.paint([crop], params.net)[0])


def test_rerender_callable_returns_a_repainted_crop_of_the_same_size(aligned_faces: AlignedFaces) -> None:
    crop = aligned_faces.crops[2]
    out = rerender(crop, np.random.default_rng(0))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert not np.array_equal(out, crop)
    assert np.array_equal(rerender(crop), rerender(crop))  # without rng: always the same network


def test_clip_keeps_one_network_and_region(aligned_faces: AlignedFaces) -> None:
    crops = [aligned_faces.crops[0]] * 3 + [aligned_faces.crops[0][:, ::-1].copy()]
    keypoints = [aligned_faces.keypoints[0]] * 4
    clip = rerender_clip(crops, keypoints, np.random.default_rng(4), load_rerenderers())
    assert clip.labels.tolist() == [1.0] * 4
    assert all(r is c for r, c in zip(clip.real, crops, strict=True))
    # The same frame three times: the same network and mask give the same fake each time.
    assert np.array_equal(clip.fake[0], clip.fake[1]) and np.array_equal(clip.fake[1], clip.fake[2])
    for real, fake, mask in zip(clip.real, clip.fake, clip.masks, strict=True):
        changed = np.any(fake != real, axis=2)
        assert changed.any() and not changed[mask == 0].any()


def test_keep_colour_removes_a_tint_and_keeps_fine_detail(aligned_faces: AlignedFaces) -> None:
    real = aligned_faces.crops[6]
    pattern = np.indices(real.shape[:2]).sum(axis=0) % 2 * 12 - 6  # a 2 px checkerboard, like an upsampler's
    rendered = np.clip(real.astype(int) + [0, 25, 0] + pattern[..., None], 0, 255).astype(np.uint8)
    kept = keep_colour(real, rendered)
    tint = kept.reshape(-1, 3).mean(0) - real.reshape(-1, 3).mean(0)
    assert np.abs(tint).max() < 1.0  # the green cast is gone...
    residual = kept.astype(int) - real
    # ...and the checkerboard is still there at nearly full strength.
    assert np.mean(residual * pattern[..., None]) > 0.8 * 36


def test_missing_weights_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="rerender-train"):
        load_rerenderers(tmp_path / "nowhere")
    pool = FacePool([], [])
    with pytest.raises(WeightsError, match=str(tmp_path)):
        PairSampler.build(pool, mix=FakeMix(rerender=0.5, rerender_weights=tmp_path))


def _pool(aligned_faces: AlignedFaces) -> FacePool:
    rows = [CachedFace(f"i{k}", "", 0, f"g{k}", "t", "", "image", "", 0, 0, "", 100.0) for k in range(3)]
    return FacePool([Face(r, aligned_faces.crops[k], aligned_faces.keypoints[k]) for k, r in enumerate(rows)], [])


def test_pair_sampler_rerender_share(aligned_faces: AlignedFaces) -> None:
    sampler = PairSampler.build(_pool(aligned_faces), mix=FakeMix(rerender=1.0))
    rng = np.random.default_rng(0)
    crops = {id(c) for c in aligned_faces.crops}
    for _ in range(4):
        real, fake = sampler.pair(rng)
        assert id(real) in crops  # the real of the pair is the untouched crop
        assert fake.shape == real.shape and not np.array_equal(fake, real)
    x, y = sampler.batch(2, rng)
    assert len(x) == 4 and y.tolist() == [0, 1, 0, 1]


def test_share_zero_keeps_the_old_random_stream(aligned_faces: AlignedFaces) -> None:
    pool = _pool(aligned_faces)
    default = PairSampler.build(pool).pair(np.random.default_rng(3))
    explicit = PairSampler.build(pool, mix=FakeMix(rerender=0.0, rerender_weights=Path("/nowhere"))).pair(
        np.random.default_rng(3)
    )
    assert all(np.array_equal(a, b) for a, b in zip(default, explicit, strict=True))


def test_clip_pair_can_be_rerendered(aligned_faces: AlignedFaces) -> None:
    crops = [aligned_faces.crops[0]] * 4
    keypoints = [aligned_faces.keypoints[0]] * 4
    pair = make_clip_pair(crops, keypoints, np.random.default_rng(1), post=PostProcessing.NONE, rerender_p=1.0)
    rng = np.random.default_rng(1)
    rng.random()  # the draw that chose re-rendering
    expected = rerender_clip(crops, keypoints, rng, load_rerenderers())
    assert pair.labels.tolist() == [1.0] * 4
    assert all(np.array_equal(a, b) for a, b in zip(pair.fake, expected.fake, strict=True))


def test_random_rerender_draws_every_kind(aligned_faces: AlignedFaces) -> None:
    models = load_rerenderers()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        params = sample_rerender_params(rng, models.names)
        seen.add((params.net, None if params.mask is None else params.mask.shape))
    assert {n for n, _ in seen} == set(models.names)
    assert {s for _, s in seen} == {None, *MaskShape}
    result = random_rerender(aligned_faces.crops[0], aligned_faces.keypoints[0], rng, models)
    assert result.fake.shape == aligned_faces.crops[0].shape


def test_clip_bank_with_rerendered_clips(aligned_faces: AlignedFaces) -> None:
    crops, keypoints = aligned_faces.crops, aligned_faces.keypoints
    faces = [
        Face(CachedFace("v", "", 0, "v", "t", "", "video", "", 2 * i, 0, "", 100.0), crops[0], keypoints[0])
        for i in range(4)
    ]
    net = DeepfakeNet(pretrained_backbone=True).eval()  # ImageNet features: a random backbone embeds all to 0
    bank = build_bank(
        net, FacePool(faces, [[0, 1, 2, 3]]), np.random.default_rng(0), stills=0, reuse=1, length=4, rerender_p=1.0
    )
    assert bank.clip_labels.tolist() == [0.0, 1.0]
    # Every frame of the fake clip is a re-rendering of the same still: the embeddings differ from the real's.
    assert not torch.equal(bank.embeddings[0], bank.embeddings[1])


def test_training_recipe_with_rerender_weights_is_json(tmp_path: Path) -> None:
    config = TrainConfig(caches=(tmp_path,), out=tmp_path, mix=FakeMix(rerender=0.2, rerender_weights=tmp_path / "w"))
    recipe = json.loads(json.dumps(_recipe(config, [], ViewSpec())))
    assert recipe["mix"]["rerender"] == 0.2 and recipe["mix"]["rerender_weights"] == str(tmp_path / "w")
