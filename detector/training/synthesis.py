"""Self-blended fakes (SBI: Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022).

Our own implementation of the published recipe, working on the aligned crop directly (the crop keeps
margin around the face). A face is blended with a slightly altered copy of itself inside a soft
face-shaped mask, which leaves exactly the cues a face swap leaves — a blending boundary, colour and
sharpness mismatch, small misregistration — without any identity change for the model to latch onto.
Pixel-sized parameters are drawn for a 128 px crop and scaled to the crop at hand, so a cache prepared
at another `--crop-size` gets the same blends at a finer grain.

When a face has its 468-point mesh, the mask is built from the face's own landmarks (the hull of the
oval below the eyes and the brows, lifted onto the forehead for RAISED, as SBI's 68-point-plus-forehead
hulls; the exact lower face for LOWER); without one, from the mean outline placed by the 5 keypoints.

The clip version follows the temporal extension (FakeSTormer): the random parameters are fixed once per
clip, the mask is rebuilt per frame from that frame's keypoints, the intensity wobbles a little, and some
clips flicker or cut a span back to real frames (those frames are labelled real).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import cv2
import numpy as np

from detector.training.augment import (
    REFERENCE_SIZE,
    ColourChange,
    FrequencyChange,
    apply_changes,
    sample_colour_change,
    sample_frequency_change,
)
from detector.training.face_shape import FaceOutline, face_outline, mesh_outline
from detector.training.regions import Region, region_polygons

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


class MaskShape(StrEnum):
    """Hull variants; mask diversity is reported to be worth ~10 AUC points across data sets."""

    WHOLE = "whole"  # jaw + brows
    RAISED = "raised"  # jaw + brows lifted onto the forehead
    INNER = "inner"  # the hull shrunk towards the nose: cheeks and jaw edge stay real
    LOWER = "lower"  # nose, mouth and jaw: a mouth-region swap/reenactment


@dataclass(frozen=True)
class MaskParams:
    """How one blend mask is drawn and softened."""

    shape: MaskShape
    brow_lift: float  # eye distances, for RAISED
    shrink: float  # fraction towards the nose, for INNER
    elastic_seed: int
    elastic_alpha: float  # px of random smooth displacement
    erode: int  # px eroded from the hard mask edge
    blur_kernel: int  # odd Gaussian kernel
    blur_sigma: float
    ratio: float  # blend ratio from BLEND_RATIOS


@dataclass(frozen=True)
class BlendParams:
    """Everything random about one self-blend (fixed for a whole clip)."""

    mask: MaskParams
    change_source: bool  # True: alter the inner (source) face; False: alter the surroundings (target)
    colour: ColourChange | None
    frequency: FrequencyChange | None
    shift: tuple[float, float]  # source translation as a fraction of crop size (x, y)
    scale: float  # source scale about the crop centre


@dataclass(frozen=True)
class BlendResult:
    """A real crop, its self-blended fake and the blend mask (float32 in [0, 1])."""

    real: np.ndarray
    fake: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class ClipResult:
    """A real clip, its fake and per-frame masks and labels (1 = fake frame, 0 = span left real)."""

    real: list[np.ndarray]
    fake: list[np.ndarray]
    masks: list[np.ndarray]
    labels: np.ndarray


def sample_mask_params(rng: np.random.Generator) -> MaskParams:
    """Random mask shape and softening."""
    kernel = int(rng.integers(1, 9)) * 2 + 1  # 3..17 at 128 px ≈ SBI's 5..25 at its larger crops
    return MaskParams(
        shape=MaskShape(rng.choice([s.value for s in MaskShape], p=[0.35, 0.25, 0.25, 0.15])),
        brow_lift=float(rng.uniform(0.15, 0.6)),
        shrink=float(rng.uniform(0.1, 0.3)),
        elastic_seed=int(rng.integers(0, 2**31 - 1)),
        elastic_alpha=float(rng.uniform(0.0, 6.0)),
        erode=int(rng.integers(0, 4)),
        blur_kernel=kernel,
        blur_sigma=float(rng.uniform(0.3, 1.0)) * kernel / 2,
        ratio=float(rng.choice(BLEND_RATIOS)),
    )


def sample_blend_params(rng: np.random.Generator) -> BlendParams:
    """Random self-blend: mask, which side is altered, colour and/or frequency change, source jitter."""
    # As published, the frequency change (blur or sharpen) is always applied, the colour change usually:
    # a blend with neither would be an invisible "fake" that only teaches the model noise.
    colour = sample_colour_change(rng) if rng.random() < 0.7 else None
    frequency = sample_frequency_change(rng)
    return BlendParams(
        mask=sample_mask_params(rng),
        change_source=bool(rng.random() < 0.5),
        colour=colour,
        frequency=frequency,
        shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.015, 0.015))),
        scale=float(rng.uniform(0.95, 1.05)),
    )


def hull_polygon(outline: FaceOutline, params: MaskParams, mesh: np.ndarray | None = None) -> np.ndarray:
    """The mask's polygon (N, 2) for one face and one shape variant."""
    if params.shape is MaskShape.LOWER and mesh is not None:
        return region_polygons(Region.LOWER, outline.keypoints, mesh)[0]
    if params.shape is MaskShape.RAISED:
        return outline.hull_points(params.brow_lift)
    points = outline.hull_points(0.0)
    if params.shape is MaskShape.INNER:
        nose = outline.keypoints[2]
        return nose + (points - nose) * (1.0 - params.shrink)
    if params.shape is MaskShape.LOWER:
        eye_line = outline.keypoints[:2].mean(axis=0)
        nose = outline.keypoints[2]
        # Jaw points below the eyes plus a bridge across the nose top.
        below = outline.jaw[(outline.jaw - eye_line) @ (nose - eye_line) > 0]
        bridge = eye_line + 0.35 * (nose - eye_line)
        return np.concatenate([below, bridge[None] + (outline.keypoints[:2] - eye_line) * 0.8])
    return points


def draw_mask(keypoints: np.ndarray, params: MaskParams, size: int, mesh: np.ndarray | None = None) -> np.ndarray:
    """Hard hull → elastic deformation → erode → blur → × blend ratio; float32 (size, size) in [0, 1].

    The hull comes from the face's mesh when given ((468, 2), the coordinates of `keypoints`), else from
    the mean outline placed by the 5 keypoints."""
    outline = mesh_outline(mesh, keypoints) if mesh is not None else face_outline(keypoints)
    polygon = hull_polygon(outline, params, mesh)
    hard = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hard, cv2.convexHull(np.round(polygon).astype(np.int32)), 255)
    k = size / REFERENCE_SIZE  # parameters are in 128 px crop pixels
    soft = _elastic(hard, params.elastic_seed, params.elastic_alpha * k)
    erode = round(params.erode * k)
    if erode:
        soft = cv2.erode(soft, np.ones((2 * erode + 1,) * 2, np.uint8))
    kernel = round((params.blur_kernel - 1) / 2 * k) * 2 + 1
    mask = cv2.GaussianBlur(soft.astype(np.float32) / 255.0, (kernel, kernel), params.blur_sigma * k)
    return (mask * params.ratio).astype(np.float32)


def _elastic(mask: np.ndarray, seed: int, alpha: float) -> np.ndarray:
    """Random smooth displacement of the mask: a coarse 5×5 noise grid upsampled to a flow field.

    The seed, not the field, is the clip parameter: the same field then deforms every frame's mask alike.
    """
    if alpha <= 0:
        return mask
    size = mask.shape[0]
    noise = np.random.default_rng(seed).uniform(-alpha, alpha, (2, 5, 5)).astype(np.float32)
    flow = [cv2.resize(n, (size, size), interpolation=cv2.INTER_CUBIC) for n in noise]
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float32)
    return cv2.remap(mask, grid_x + flow[0], grid_y + flow[1], cv2.INTER_LINEAR, borderValue=0)


def _jitter(image: np.ndarray, params: BlendParams) -> np.ndarray:
    """Small affine misregistration of the source (translation and scale about the centre)."""
    size = image.shape[0]
    centre = size / 2
    matrix = np.array(
        [
            [params.scale, 0.0, (1 - params.scale) * centre + params.shift[0] * size],
            [0.0, params.scale, (1 - params.scale) * centre + params.shift[1] * size],
        ]
    )
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def blend(crop: np.ndarray, keypoints: np.ndarray, params: BlendParams, mesh: np.ndarray | None = None) -> BlendResult:
    """Self-blend one aligned crop. The returned real is the target, so fake == real where mask == 0."""
    source, target = crop, crop
    if params.change_source:
        source = apply_changes(source, params.colour, params.frequency)
    else:
        target = apply_changes(target, params.colour, params.frequency)
    source = _jitter(source, params)
    return composite(source, target, draw_mask(keypoints, params.mask, crop.shape[0], mesh))


def composite(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> BlendResult:
    """`mask · source + (1 − mask) · target`; the real of the pair is the target, kept exactly where mask == 0."""
    m = mask[..., None]
    fake = np.round(m * source.astype(np.float32) + (1 - m) * target.astype(np.float32))
    # Rounding can flip a pixel by one level where m is tiny but non-zero: force exact copies where m == 0.
    fake = np.where(m > 0, fake, target).astype(np.uint8)
    return BlendResult(real=target, fake=fake, mask=mask)


def self_blend(
    crop: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator, mesh: np.ndarray | None = None
) -> BlendResult:
    """A random self-blended fake of one aligned crop (mask from its mesh when given)."""
    return blend(crop, keypoints, sample_blend_params(rng), mesh)


def blend_clip(
    crops: list[np.ndarray],
    keypoints: list[np.ndarray],
    rng: np.random.Generator,
    meshes: list[np.ndarray | None] | None = None,
) -> ClipResult:
    """Self-blend a clip with parameters fixed per clip and masks rebuilt from each frame's keypoints
    (and mesh, for the frames that have one)."""
    params = sample_blend_params(rng)
    steps = len(crops)
    frame_meshes = meshes if meshes is not None else [None] * steps
    ratios = np.clip(params.mask.ratio * (1 + rng.normal(0, 0.05, steps)), 0.1, 1.0)
    labels = np.ones(steps, np.float32)
    kind = rng.random()
    if kind < 0.15 and steps >= 4:
        # Flicker: some frames blend much more weakly, as when a swap model loses track briefly.
        flicker = rng.random(steps) < 0.25
        ratios[flicker] *= rng.uniform(0.2, 0.6)
    elif kind < 0.3 and steps >= 4:
        # A span back to real: the fake starts late or stops early.
        length = int(rng.integers(1, steps // 2 + 1))
        start = int(rng.integers(0, steps - length + 1))
        labels[start : start + length] = 0.0
    results = []
    for t in range(steps):
        if labels[t] == 0.0:
            real = blend(crops[t], keypoints[t], params, frame_meshes[t]).real
            results.append(BlendResult(real, real, np.zeros(real.shape[:2], np.float32)))
            continue
        frame_params = replace(params, mask=replace(params.mask, ratio=float(ratios[t])))
        results.append(blend(crops[t], keypoints[t], frame_params, frame_meshes[t]))
    return ClipResult(
        real=[r.real for r in results],
        fake=[r.fake for r in results],
        masks=[r.mask for r in results],
        labels=labels,
    )
