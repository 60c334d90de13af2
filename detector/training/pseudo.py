"""Video-level pseudo-fakes made from real footage only: warp-blends ("facial feature drift").

Reenactment, lip-sync and talking-head generators leave no colour seam; what they leave is geometry
that does not quite belong to the face: features that drift against the head, a mouth moving on its
own, a slightly resampled (re-rendered) inner face. A warp-blend imitates that, following the video-level
blending idea published with StA (CVPR 2025): each frame is blended with a *smoothly warped copy of
itself* inside a soft face mask, and over a clip the warp field drifts on its own schedule, so the inner
face moves against the rest of the head. Outside the mask the frame is left exactly as it was.

Parameters are drawn for a 128 px crop and scaled to the crop at hand, like the self-blends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from detector.training.augment import REFERENCE_SIZE
from detector.training.synthesis import (
    BlendResult,
    ClipResult,
    MaskParams,
    MaskShape,
    composite,
    draw_mask,
    sample_mask_params,
)


@dataclass(frozen=True)
class WarpParams:
    """Everything random about one warp-blend (fixed for a whole clip)."""

    mask: MaskParams
    seed: int  # of the two coarse noise fields the warp moves between
    amplitude: float  # displacement scale, 128 px crop pixels (the field stays within twice it)
    grid: int  # coarse grid side: small = broad drift, large = local feature wobble
    speed: float  # radians of drift phase per frame (clips)
    phase: float  # where the drift starts
    smooth: float  # extra Gaussian sigma (128 px) on the warped copy: a re-rendered face is softer


def sample_warp_params(rng: np.random.Generator) -> WarpParams:
    """Random warp-blend; the mask favours the inner face and the mouth, where generators work."""
    mask = sample_mask_params(rng)
    shape = MaskShape(rng.choice([s.value for s in MaskShape], p=[0.3, 0.1, 0.3, 0.3]))
    # Full-strength blends: a half-strength warp is a ghosted double image no generator makes.
    mask = replace(mask, shape=shape, ratio=float(rng.choice([0.75, 1.0, 1.0])))
    return WarpParams(
        mask=mask,
        seed=int(rng.integers(0, 2**31 - 1)),
        amplitude=float(rng.uniform(1.0, 4.0)),
        grid=int(rng.integers(3, 7)),
        speed=float(rng.uniform(0.1, 0.6)),
        phase=float(rng.uniform(0, 2 * np.pi)),
        smooth=float(rng.choice([0.0, 0.0, rng.uniform(0.3, 0.9)])),
    )


def warp_field(size: int, params: WarpParams, frame: int = 0) -> np.ndarray:
    """Displacement (2, size, size) in pixels at `frame`: a smooth mix of two fixed coarse fields."""
    k = size / REFERENCE_SIZE
    noise = np.random.default_rng(params.seed).uniform(-1, 1, (2, 2, params.grid, params.grid)).astype(np.float32)
    angle = params.phase + params.speed * frame
    coarse = noise[0] * np.cos(angle) + noise[1] * np.sin(angle)
    amplitude = params.amplitude * k
    fields = [cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) * amplitude for c in coarse]
    return np.stack(fields).astype(np.float32)


def warp_blend(
    crop: np.ndarray, keypoints: np.ndarray, params: WarpParams, frame: int = 0, mesh: np.ndarray | None = None
) -> BlendResult:
    """Blend a crop with a warped copy of itself inside the mask (from its mesh when given); pixels where
    the mask is 0 stay exact."""
    size = crop.shape[0]
    flow = warp_field(size, params, frame)
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float32)
    warped = cv2.remap(crop, grid_x + flow[0], grid_y + flow[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if params.smooth > 0:
        warped = cv2.GaussianBlur(warped, (0, 0), params.smooth * size / REFERENCE_SIZE)
    return composite(warped, crop, draw_mask(keypoints, params.mask, size, mesh))


def random_warp_blend(
    crop: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator, mesh: np.ndarray | None = None
) -> BlendResult:
    """A random warp-blend of one still (the drift phase stands for a random moment of a clip)."""
    return warp_blend(crop, keypoints, sample_warp_params(rng), mesh=mesh)


def warp_blend_clip(
    crops: list[np.ndarray],
    keypoints: list[np.ndarray],
    rng: np.random.Generator,
    meshes: list[np.ndarray | None] | None = None,
) -> ClipResult:
    """Warp-blend a clip: one mask recipe and noise pair, masks from each frame's keypoints (and mesh),
    the field drifting frame by frame on its own schedule (the inner face moves against the head)."""
    params = sample_warp_params(rng)
    frame_meshes = meshes if meshes is not None else [None] * len(crops)
    results = [
        warp_blend(c, k, params, t, m) for t, (c, k, m) in enumerate(zip(crops, keypoints, frame_meshes, strict=True))
    ]
    return ClipResult(
        real=[r.real for r in results],
        fake=[r.fake for r in results],
        masks=[r.mask for r in results],
        labels=np.ones(len(crops), np.float32),
    )
