"""Mouth re-timing: lip-sync made without a generator, from real footage only.

Lip-sync generators (Wav2Lip, VideoReTalking, LatentSync, MuseTalk) keep the upper face and paint a new
lower face whose mouth shape belongs to another moment (the audio's), often at a lower resolution
(96–256 px), then paste it back. This imitates that with the clip itself: the lower face (or just the
mouth) of another frame of the same real clip — picked for a different mouth opening — is placed onto
this frame by the landmarks that jaw and lips do not move (nose, eye corners, the face's sides), so the
pasted mouth keeps its own shape, and blended in inside a soft mask built from both frames' landmarks.
Sometimes the pasted face is painted at a lower resolution (×2–4 down and back up), and an optional
`rerender` callable (e.g. one of the project's small autoencoders) can paint it as a decoder would.
Outside the mask every pixel is the real frame's own.

The clip version takes each frame's lower face from a frame a fixed offset away, so the mouth's motion
no longer matches the head's (what a temporal model should notice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detector.faces.mesh_topology import STABLE, mouth_opening
from detector.training.augment import rescale
from detector.training.face_shape import apply, similarity
from detector.training.regions import Region, region_mask
from detector.training.synthesis import BlendResult, ClipResult, composite

# Paints a BGR uint8 crop as a generator's decoder would; returns a crop of the same size.
Rerender = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RetimeParams:
    """Everything random about one re-timing (fixed for a whole clip)."""

    region: Region  # LOWER (nose to chin) or MOUTH
    grow: float  # eye distances added round the region
    feather: float  # eye distances of soft edge
    downscale: float  # 1: full resolution; 2–4: painted small and scaled back up
    ratio: float  # blend strength inside the mask


@dataclass(frozen=True)
class Retimed:
    """One re-timed frame and the index of the frame its lower face came from."""

    result: BlendResult
    source: int


@dataclass(frozen=True)
class RetimedClip:
    """A re-timed clip (every frame labelled fake) and, per frame, where its lower face came from."""

    clip: ClipResult
    sources: list[int]


def sample_retime_params(rng: np.random.Generator) -> RetimeParams:
    """Lower face more often than the mouth alone; half the time at a generator's lower resolution."""
    region = Region.LOWER if rng.random() < 0.6 else Region.MOUTH
    grow = float(rng.uniform(0.0, 0.1) if region is Region.LOWER else rng.uniform(0.15, 0.35))
    return RetimeParams(
        region=region,
        grow=grow,
        feather=float(rng.uniform(0.1, 0.3)),
        downscale=float(rng.uniform(2.0, 4.0)) if rng.random() < 0.5 else 1.0,
        ratio=float(rng.choice([0.85, 1.0, 1.0, 1.0])),
    )


def place(source: np.ndarray, source_mesh: np.ndarray, target_mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The source crop moved onto the target's head (similarity fit on the landmarks jaw and lips do not
    move), and its mesh moved alike."""
    matrix = similarity(source_mesh[list(STABLE)].astype(np.float64), target_mesh[list(STABLE)].astype(np.float64))
    size = (source.shape[1], source.shape[0])
    moved = cv2.warpAffine(source, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return moved, apply(matrix, source_mesh.astype(np.float64)).astype(np.float32)


def retime(
    target: np.ndarray,
    target_mesh: np.ndarray,
    source: np.ndarray,
    source_mesh: np.ndarray,
    params: RetimeParams,
    rerender: Rerender | None = None,
) -> BlendResult:
    """The target frame with the source frame's lower face (or mouth) blended in; exact outside the mask."""
    moved, moved_mesh = place(source, source_mesh, target_mesh)
    if params.downscale > 1.0:
        moved = rescale(moved, 1.0 / params.downscale)
    if rerender is not None:
        moved = rerender(moved)
    size = target.shape[0]
    # Both frames' regions: a mouth opened wider reaches further down, and the old chin must not show.
    mask = np.maximum(
        region_mask(params.region, size, None, target_mesh, grow=params.grow, feather=params.feather),
        region_mask(params.region, size, None, moved_mesh, grow=params.grow, feather=params.feather),
    )
    return composite(moved, target, mask * params.ratio)


def pick_source(meshes: Sequence[np.ndarray | None], index: int, rng: np.random.Generator) -> int | None:
    """Another frame of the clip with a mesh, the more likely the more its mouth opening differs from
    frame `index`'s; None when the clip has no other such frame."""
    target = meshes[index]
    candidates = [j for j, m in enumerate(meshes) if j != index and m is not None]
    if target is None or not candidates:
        return None
    opening = mouth_opening(target)
    weights = np.array([abs(mouth_opening(meshes[j]) - opening) for j in candidates]) + 0.01  # type: ignore[arg-type]
    return candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]


def random_retime(
    crops: Sequence[np.ndarray],
    meshes: Sequence[np.ndarray | None],
    index: int,
    rng: np.random.Generator,
    rerender: Rerender | None = None,
) -> Retimed | None:
    """Frame `index` of a clip (all its frames in `crops`, their meshes in `meshes`) re-timed with the lower
    face of another of its frames; None when there is no frame to take it from."""
    source = pick_source(meshes, index, rng)
    if source is None:
        return None
    target_mesh, source_mesh = meshes[index], meshes[source]
    assert target_mesh is not None and source_mesh is not None  # pick_source only offers meshed frames
    params = sample_retime_params(rng)
    return Retimed(retime(crops[index], target_mesh, crops[source], source_mesh, params, rerender), source)


def retime_clip(
    crops: Sequence[np.ndarray],
    meshes: Sequence[np.ndarray | None],
    targets: Sequence[int],
    rng: np.random.Generator,
    rerender: Rerender | None = None,
    min_shift: int = 3,
) -> RetimedClip | None:
    """Re-time the frames `targets` of a clip, each taking its lower face from the frame a fixed offset
    (at least `min_shift` frames, either way) away; one set of parameters for the whole clip. None when
    no offset keeps every source inside the clip and meshed."""
    meshed = [m is not None for m in meshes]
    if not all(meshed[t] for t in targets):
        return None
    offsets = [
        o
        for o in range(-len(crops) + 1, len(crops))
        if abs(o) >= min_shift and all(0 <= t + o < len(crops) and meshed[t + o] for t in targets)
    ]
    if not offsets:
        return None
    offset = offsets[int(rng.integers(len(offsets)))]
    params = sample_retime_params(rng)
    results = [
        retime(crops[t], meshes[t], crops[t + offset], meshes[t + offset], params, rerender)  # type: ignore[arg-type]
        for t in targets
    ]
    clip = ClipResult(
        real=[r.real for r in results],
        fake=[r.fake for r in results],
        masks=[r.mask for r in results],
        labels=np.ones(len(results), np.float32),
    )
    return RetimedClip(clip, [t + offset for t in targets])
