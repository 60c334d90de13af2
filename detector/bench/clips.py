"""Synthetic benchmark clips: real face photos that ship inside installed packages, moving over a
textured background, encoded to H.264 with PyAV (one slice per frame, like a typical camera)."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


class MissingFacesError(RuntimeError):
    """No packaged face photo could be found."""


def packaged_face_photos() -> list[Path]:
    """Portraits inside installed packages (InsightFace, scikit-image, matplotlib)."""
    candidates = [
        ("insightface", "data/images/Tom_Hanks_54745.png"),
        ("skimage", "data/astronaut.png"),
        ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ]
    found = []
    for package, relative in candidates:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / relative
        if path.is_file():
            found.append(path)
    if not found:
        raise MissingFacesError("no face photos found in installed packages (insightface, scikit-image, matplotlib)")
    return found


@dataclass(frozen=True)
class ClipSpec:
    width: int = 1280
    height: int = 720
    fps: int = 30
    seconds: float = 4.0
    faces: int = 2
    bitrate: int = 3_000_000
    face_width: int = 200


def write_clip(path: Path, spec: ClipSpec) -> Path:
    """Encode `spec` to `path` (H.264, yuv420p); faces drift and breathe in scale."""
    photos = [image for p in packaged_face_photos() if (image := cv2.imread(str(p))) is not None]
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(40, 200, (spec.height, spec.width, 3), dtype=np.uint8), (0, 0), 9)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.bit_rate = spec.bitrate
        stream.options = {"preset": "veryfast", "tune": "zerolatency"}
        stream.codec_context.time_base = Fraction(1, spec.fps)
        for i in range(round(spec.seconds * spec.fps)):
            image = _compose(background, photos, spec, i / spec.fps)
            frame = av.VideoFrame.from_ndarray(image.astype(np.uint8, copy=False), format="bgr24")
            frame.pts = i  # in the codec time base, 1/fps
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _compose(background: np.ndarray, photos: list[np.ndarray], spec: ClipSpec, t: float) -> np.ndarray:
    image = background.copy()
    for k in range(spec.faces):
        photo = photos[k % len(photos)]
        scale = spec.face_width * (1 + 0.1 * math.sin(1.3 * t + k)) / photo.shape[1]
        patch = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        slot = spec.width / spec.faces
        x = int(slot * k + (slot - patch.shape[1]) / 2 + 40 * math.sin(0.9 * t + k))
        y = int((spec.height - patch.shape[0]) / 2 + 30 * math.cos(0.7 * t + 2 * k))
        x = min(max(x, 0), spec.width - patch.shape[1])
        y = min(max(y, 0), spec.height - patch.shape[0])
        image[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return image
