"""A dense face outline for blend masks: the face's own mesh when it has one, else a mean outline.

A blend mask needs the face boundary (jaw, cheeks, brows). With the 468-point face mesh the outline is
the face's own: the face oval from eye height down round the chin (the span of the 68-point jaw line
that SBI's masks are hulls of) and both brows, so the mask follows this face's shape and pose.

Without a mesh only eyes, nose and mouth corners are known: a fixed mean 2-D face contour, written in
the 112 px ArcFace frame that `align_face` uses, is placed onto a face by the similarity transform that
best maps the ArcFace keypoints onto that face's keypoints. Aligned crops put the keypoints almost on the
template, so the fit mostly absorbs small per-frame jitter; pose changes beyond that are left to the
mask's random deformation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from insightface.utils import face_align

from detector.faces.mesh_topology import FACE_OVAL, LEFT_BROW, RIGHT_BROW, eye_centres, interocular, up_vector

ARCFACE_KEYPOINTS = np.asarray(face_align.arcface_dst, dtype=np.float64)
_CENTER_X = 56.0
_EYE_Y = 51.6
_INTEROCULAR = 35.2


def _jaw(points: int = 17) -> np.ndarray:
    """Ear-to-ear jaw line: a squared half-ellipse from cheekbone height down to the chin."""
    theta = np.linspace(0.0, np.pi, points)
    cos, sin = np.cos(theta), np.sin(theta)
    # Exponents < 1 square the ellipse off: real jaws are wider than an ellipse near the cheeks.
    x = _CENTER_X + 37.0 * np.sign(cos) * np.abs(cos) ** 0.8
    y = 54.0 + 58.0 * sin**1.3
    return np.stack([x, y], axis=1)


def _brows(points: int = 5) -> np.ndarray:
    """Both eyebrows, left then right, as arcs about a third of the eye distance above the eyes."""
    t = np.linspace(0.0, 1.0, points)
    left_x = 23.0 + 28.0 * t
    arc = _EYE_Y - 13.0 - 4.0 * np.sin(np.pi * t)
    left = np.stack([left_x, arc], axis=1)
    right = np.stack([2 * _CENTER_X - left_x[::-1], arc[::-1]], axis=1)
    return np.concatenate([left, right])


JAW = _jaw()
BROWS = _brows()


@dataclass(frozen=True)
class FaceOutline:
    """Dense outline points of one face in crop pixels."""

    jaw: np.ndarray  # (N, 2), ear to ear through the chin (17 mean points, or the mesh's oval below the eyes)
    brows: np.ndarray  # (M, 2), both brows
    keypoints: np.ndarray  # (5, 2), the detector's points
    interocular: float  # eye distance in crop pixels, the outline's length unit

    def hull_points(self, brow_lift: float = 0.0) -> np.ndarray:
        """Jaw and brows, the brows moved up by `brow_lift` eye distances (a forehead-covering hull)."""
        up = self._up_vector() * brow_lift * self.interocular
        return np.concatenate([self.jaw, self.brows + up])

    def _up_vector(self) -> np.ndarray:
        """Unit vector from the mouth towards the eyes (face 'up', robust to roll)."""
        eyes = self.keypoints[:2].mean(axis=0)
        mouth = self.keypoints[3:].mean(axis=0)
        direction = eyes - mouth
        return direction / max(float(np.linalg.norm(direction)), 1e-6)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2×3 similarity (rotation, uniform scale, translation) taking `src` onto `dst`."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - src_mean, dst - dst_mean
    # Complex-number form of the 2-D Procrustes fit: dst ≈ z·src with z = scale·e^{iθ}.
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    z = np.vdot(za, zb) / max(float(np.vdot(za, za).real), 1e-12)
    rot = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([rot, (dst_mean - rot @ src_mean)[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine to (N, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def face_outline(keypoints: np.ndarray) -> FaceOutline:
    """Place the mean outline onto a face given its 5 keypoints (any coordinate frame)."""
    kps = np.asarray(keypoints, dtype=np.float64).reshape(5, 2)
    matrix = similarity(ARCFACE_KEYPOINTS, kps)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    return FaceOutline(apply(matrix, JAW), apply(matrix, BROWS), kps, scale * _INTEROCULAR)


def mesh_outline(mesh: np.ndarray, keypoints: np.ndarray) -> FaceOutline:
    """The outline of a face from its own mesh (crop pixels, like `keypoints`)."""
    points = np.asarray(mesh, np.float64)
    oval = points[list(FACE_OVAL)]
    up = up_vector(points)
    eye_level = float(eye_centres(points).mean(axis=0) @ up)
    # The oval runs round the whole face; the part below the eyes is one unbroken stretch of it.
    jaw = oval[oval @ up < eye_level]
    brows = points[list(RIGHT_BROW + LEFT_BROW)]
    kps = np.asarray(keypoints, dtype=np.float64).reshape(5, 2)
    return FaceOutline(jaw, brows, kps, interocular(points))
