"""What the model sees of a face: views cut from one aligned crop.

The aligner produces one crop per face at `align_size` (the training caches hold crops of that size too).
The face view is that crop scaled to the face CNN's input; the mouth view is a square around the mouth,
at a higher resolution than the mouth has in the face view. Lip-sync generators re-paint only the
lower face at 96–256 px and paste it back (RESEARCH §7): at a 128 px face view the mouth is ≈ 30 px
wide and those traces are mostly gone, in a 96 px mouth view cut from a 192 px crop it is ≈ 48 px.

Training and serving call the same two functions on crops of the same size, so a model sees at serving
exactly the pixels it was trained on (same alignment, same resampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from detector.faces.align import ZOOM, template

DEFAULT_SIZE = 128  # face view of the models shipped so far, aligned directly at that size

# The mouth box: centred on the mouth corners' midpoint moved down by MOUTH_DROP mouth widths (so lips,
# philtrum and chin are inside), MOUTH_SPAN mouth widths on a side.
MOUTH_SPAN = 2.0
MOUTH_DROP = 0.15


@dataclass(frozen=True)
class ViewSpec:
    """Sizes of the views a model takes (stored in its checkpoint)."""

    align_size: int = DEFAULT_SIZE  # side of the aligned crop both views are cut from
    face_size: int = DEFAULT_SIZE  # side of the face view (the face CNN's input)
    mouth_size: int = 0  # side of the mouth view; 0 = the model has no mouth view
    zoom: float = ZOOM  # alignment zoom of the crop (places the mouth box)

    @property
    def has_mouth(self) -> bool:
        return self.mouth_size > 0


def face_view(crop: np.ndarray, spec: ViewSpec) -> np.ndarray:
    """The aligned crop at the face CNN's input size (area resampling when it shrinks)."""
    if crop.shape[0] == spec.face_size:
        return crop
    interpolation = cv2.INTER_AREA if crop.shape[0] > spec.face_size else cv2.INTER_LINEAR
    return cv2.resize(crop, (spec.face_size, spec.face_size), interpolation=interpolation)


def mouth_box(size: int, zoom: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the mouth square in a `size` px crop aligned at `zoom` (whole pixels)."""
    points = template(size, zoom)
    left, right = points[3], points[4]
    width = float(np.linalg.norm(right - left))
    cx, cy = (left + right) / 2 + np.array([0.0, MOUTH_DROP * width])
    side = int(round(MOUTH_SPAN * width))
    x0 = int(round(cx - side / 2))
    y0 = int(round(cy - side / 2))
    x0, y0 = min(max(x0, 0), size - side), min(max(y0, 0), size - side)
    return x0, y0, side


def mouth_view(crop: np.ndarray, spec: ViewSpec) -> np.ndarray:
    """The mouth square of an aligned crop at `spec.mouth_size`."""
    x0, y0, side = mouth_box(crop.shape[0], spec.zoom)
    patch = crop[y0 : y0 + side, x0 : x0 + side]
    if side == spec.mouth_size:
        return np.ascontiguousarray(patch)
    interpolation = cv2.INTER_AREA if side > spec.mouth_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (spec.mouth_size, spec.mouth_size), interpolation=interpolation)


@dataclass(frozen=True)
class ModelInput:
    """Normalised tensors of a batch of faces: face views (B, 3, S, S), mouth views (B, 3, M, M) or None."""

    face: torch.Tensor
    mouth: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.face.shape[0])


def to_tensor(crops: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """BGR uint8 crops (B, S, S, 3) → normalised RGB float tensor (B, 3, S, S)."""
    batch = np.ascontiguousarray(np.asarray(crops)[..., ::-1])
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
    return (tensor - 127.5) / 128.0


def model_input(crops: list[np.ndarray], spec: ViewSpec) -> ModelInput:
    """Aligned crops (each `spec.align_size` px) → the tensors a model with `spec` takes."""
    face = to_tensor([face_view(c, spec) for c in crops])
    mouth = to_tensor([mouth_view(c, spec) for c in crops]) if spec.has_mouth else None
    return ModelInput(face, mouth)
