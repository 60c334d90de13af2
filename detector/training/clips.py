"""Training clips: real video runs and sequences synthesised from stills, with their self-blended fakes.

Only ~20 real training videos exist, so most clips are made from stills: smooth random motion (the
aligned crop still jitters a little frame to frame in real footage), slow lighting drift, and the
compression a real stream adds — per-frame JPEG or a real H.264 round trip at realistic face sizes.
A real clip and its fake always receive the same post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from detector.training.augment import REFERENCE_SIZE, h264_roundtrip, post_augment, sample_post_augment
from detector.training.pseudo import warp_blend_clip
from detector.training.rerender import load_rerenderers, rerender_clip
from detector.training.synthesis import blend_clip


@dataclass(frozen=True)
class Motion:
    """Smooth per-frame similarity offsets and lighting of a synthetic sequence."""

    shift: np.ndarray  # (T, 2) px
    angle: np.ndarray  # (T,) degrees
    scale: np.ndarray  # (T,)
    gain: np.ndarray  # (T,)
    offset: np.ndarray  # (T,) grey levels


@dataclass(frozen=True)
class ClipPair:
    """A real clip, its fake and per-frame fake labels, post-processed alike."""

    real: list[np.ndarray]
    fake: list[np.ndarray]
    labels: np.ndarray


def sample_motion(length: int, rng: np.random.Generator) -> Motion:
    """Slow sinusoidal drift plus small jitter, like a talking head seen by a steady camera."""
    t = np.arange(length) / max(1, length)

    def wave(amplitude: float, jitter: float) -> np.ndarray:
        phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 1.0)
        return amplitude * rng.uniform(-1, 1) * np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, jitter, length)

    return Motion(
        shift=np.stack([wave(3.0, 0.4), wave(2.0, 0.4)], axis=1),
        angle=wave(3.0, 0.3),
        scale=1.0 + wave(0.03, 0.003),
        gain=1.0 + rng.uniform(-0.12, 0.12) * t,
        offset=rng.uniform(-10, 10) * t,
    )


def still_sequence(
    crop: np.ndarray, keypoints: np.ndarray, length: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A `length`-frame sequence from one aligned still, with keypoints moved alike."""
    motion = sample_motion(length, rng)
    size = crop.shape[0]
    shifts = motion.shift * (size / REFERENCE_SIZE)  # drawn in 128 px crop pixels
    frames, points = [], []
    for k in range(length):
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), float(motion.angle[k]), float(motion.scale[k]))
        matrix[:, 2] += shifts[k]
        moved = cv2.warpAffine(crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        lit = np.clip(moved.astype(np.float32) * motion.gain[k] + motion.offset[k], 0, 255).astype(np.uint8)
        frames.append(lit)
        points.append((keypoints @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32))
    return frames, points


class PostProcessing(StrEnum):
    """What happens to a clip pair after blending (always identically to the real and the fake)."""

    TRAIN = "train"  # the training distribution: colour jitter, flip, rescale, JPEG or H.264 of any quality
    C23 = "c23"  # one H.264 round trip at CRF 23, full size (FaceForensics++ "c23" quality)
    NONE = "none"


def make_clip_pair(
    crops: list[np.ndarray],
    keypoints: list[np.ndarray],
    rng: np.random.Generator,
    h264_p: float = 0.35,
    post: PostProcessing = PostProcessing.TRAIN,
    warp_p: float = 0.0,
    meshes: list[np.ndarray | None] | None = None,
    rerender_p: float = 0.0,
    rerender_weights: Path | None = None,
) -> ClipPair:
    """Re-render (with probability `rerender_p`), else self-blend (or, with probability `warp_p`,
    warp-blend) a clip — masks from the frames' meshes where given — then post-process real and fake
    identically (JPEG or H.264 round trip)."""
    # No draw at probability 0: evaluation clips stay as they were.
    if rerender_p > 0 and rng.random() < rerender_p:
        blended = rerender_clip(crops, keypoints, rng, load_rerenderers(rerender_weights))
    elif warp_p > 0 and rng.random() < warp_p:
        blended = warp_blend_clip(crops, keypoints, rng, meshes)
    else:
        blended = blend_clip(crops, keypoints, rng, meshes)
    if post is PostProcessing.NONE:
        return ClipPair(blended.real, blended.fake, blended.labels)
    if post is PostProcessing.C23:
        return ClipPair(h264_roundtrip(blended.real, 23), h264_roundtrip(blended.fake, 23), blended.labels)
    aug = sample_post_augment(rng)
    if rng.random() < h264_p:
        crf, scale = int(rng.integers(18, 36)), float(rng.uniform(0.6, 1.0))
        aug = replace(aug, jpeg_quality=None, h264_crf=None)
        real = h264_roundtrip([post_augment(f, aug) for f in blended.real], crf, scale)
        fake = h264_roundtrip([post_augment(f, aug) for f in blended.fake], crf, scale)
    else:
        real = [post_augment(f, aug) for f in blended.real]
        fake = [post_augment(f, aug) for f in blended.fake]
    return ClipPair(real, fake, blended.labels)
