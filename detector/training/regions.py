"""Face regions as polygons and soft masks: from the face mesh exactly, from the 5 keypoints roughly.

Pseudo-fakes that imitate partial re-rendering (lip-sync paints the lower face or only the mouth, a
swap with a small mask paints the inner face) need to know where those parts are. With a mesh the
regions are the face's own; without one they are placed from the 5 keypoints (ellipses around eyes and
mouth, the mean outline for face and lower face), so a caller never has to care which it got.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from detector.faces.mesh_topology import (
    FACE_OVAL,
    LEFT_BROW,
    LEFT_EYE,
    LIPS_OUTER,
    NOSE,
    NOSE_TIP,
    RIGHT_BROW,
    RIGHT_EYE,
    interocular,
    up_vector,
)
from detector.training.face_shape import face_outline


class Region(StrEnum):
    FACE = "face"  # the whole face oval, forehead included
    INNER = "inner"  # brows, eyes, nose and mouth: cheeks and jaw edge stay out
    LOWER = "lower"  # from under the nose down to the chin, cheek to cheek
    MOUTH = "mouth"  # the lips
    EYES = "eyes"  # both eyes (two polygons)


_UNDER_NOSE = (98, 327, 2, 64, 294)  # nostril wings and the point under the tip


def region_polygons(region: Region, keypoints: np.ndarray | None, mesh: np.ndarray | None = None) -> list[np.ndarray]:
    """The region's convex polygons (float, the coordinates of `keypoints`/`mesh`); the mesh wins."""
    if mesh is not None:
        return _from_mesh(region, np.asarray(mesh, np.float64))
    return _from_keypoints(region, _five(keypoints))


def region_scale(keypoints: np.ndarray | None, mesh: np.ndarray | None = None) -> float:
    """The face's length unit (eye distance) in pixels, for growing and softening a region."""
    if mesh is not None:
        return interocular(np.asarray(mesh, np.float64))
    kps = _five(keypoints)
    return float(np.linalg.norm(kps[1] - kps[0]))


def _five(keypoints: np.ndarray | None) -> np.ndarray:
    if keypoints is None:
        raise ValueError("a face region needs the face mesh or the 5 keypoints")
    return np.asarray(keypoints, np.float64).reshape(5, 2)


def region_mask(
    region: Region,
    size: int,
    keypoints: np.ndarray | None,
    mesh: np.ndarray | None = None,
    *,
    grow: float = 0.0,
    feather: float = 0.0,
) -> np.ndarray:
    """A float32 (size, size) mask in [0, 1]: the region grown by `grow` and softened over `feather`
    (both in eye distances). Pixels more than about a feather away from the region stay exactly 0."""
    unit = region_scale(keypoints, mesh)
    hard: np.ndarray = np.zeros((size, size), np.uint8)
    for polygon in region_polygons(region, keypoints, mesh):
        cv2.fillConvexPoly(hard, cv2.convexHull(np.round(polygon).astype(np.int32)), 255)
    radius = round(grow * unit)
    if radius > 0:
        hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    mask: np.ndarray = hard.astype(np.float32) / 255.0
    sigma = feather * unit / 2
    if sigma > 0.3:
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
        mask[mask < 1e-3] = 0.0  # the Gaussian's far tail would otherwise touch every pixel
    return mask


def _from_mesh(region: Region, points: np.ndarray) -> list[np.ndarray]:
    if region is Region.FACE:
        return [points[list(FACE_OVAL)]]
    if region is Region.INNER:
        return [points[list(RIGHT_BROW + LEFT_BROW + RIGHT_EYE + LEFT_EYE + NOSE + LIPS_OUTER)]]
    if region is Region.MOUTH:
        return [points[list(LIPS_OUTER)]]
    if region is Region.EYES:
        return [points[list(RIGHT_EYE)], points[list(LEFT_EYE)]]
    oval = points[list(FACE_OVAL)]
    up = up_vector(points)
    below = oval[oval @ up < points[NOSE_TIP] @ up]
    return [np.concatenate([below, points[list(_UNDER_NOSE)], points[list(LIPS_OUTER)]])]


def _from_keypoints(region: Region, kps: np.ndarray) -> list[np.ndarray]:
    eye_gap = float(np.linalg.norm(kps[1] - kps[0]))
    corners = kps[3:]
    width = float(np.linalg.norm(corners[1] - corners[0]))
    mouth = _ellipse(corners.mean(axis=0), 0.65 * width, 0.22 * width, corners[1] - corners[0])
    if region is Region.MOUTH:
        return [mouth]
    if region is Region.EYES:
        axis = kps[1] - kps[0]
        return [_ellipse(kps[i], 0.3 * eye_gap, 0.15 * eye_gap, axis) for i in (0, 1)]
    outline = face_outline(kps)
    if region is Region.FACE:
        return [outline.hull_points(0.5)]
    if region is Region.INNER:
        return [np.concatenate([outline.brows, mouth])]
    eye_line, nose = kps[:2].mean(axis=0), kps[2]
    down = (nose - eye_line) / max(float(np.linalg.norm(nose - eye_line)), 1e-6)
    below = outline.jaw[(outline.jaw - nose) @ down > 0]
    return [np.concatenate([below, nose[None] + (kps[:2] - eye_line) * 0.5])]


def _ellipse(centre: np.ndarray, half_width: float, half_height: float, axis: np.ndarray) -> np.ndarray:
    """16 points of an ellipse whose width runs along `axis`."""
    direction = axis / max(float(np.linalg.norm(axis)), 1e-6)
    normal = np.array([-direction[1], direction[0]])
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    return centre + np.outer(np.cos(t) * half_width, direction) + np.outer(np.sin(t) * half_height, normal)
