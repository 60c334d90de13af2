"""The one face crop used by serving and training: 5-point similarity alignment onto the ArcFace template.

The 5 keypoints are mapped onto the ArcFace template (`ARCFACE_TEMPLATE`, InsightFace's
`face_align.arcface_dst`: a tight 112 px crop of eyes, nose and mouth) by a least-squares similarity
transform (Umeyama, 1991). The eyes weigh `EYE_WEIGHT` times as much as nose and mouth: an unweighted
fit lets a face's own nose and mouth proportions pull the eyes 2–4 px off the template, so the crop's
scale and roll would vary from person to person; with the weight the eyes land within about a pixel
and nose and mouth take up the residual.

Blending artefacts of face swaps sit on the face *boundary* (jaw, cheeks, forehead), which the ArcFace
crop cuts off, so the template is zoomed out by `ZOOM` about `CENTER` before warping: the whole face with
some margin fits the model's input.
"""

from __future__ import annotations

import cv2
import numpy as np
from insightface.utils import face_align

from detector.types import AlignedFace

ARCFACE_SIZE = 112
# InsightFace's own template (insightface.utils.face_align), so crops stay comparable with its tools.
ARCFACE_TEMPLATE = np.asarray(face_align.arcface_dst, dtype=np.float64)
ZOOM = 0.75  # the ArcFace template scaled by this leaves chin and forehead inside the crop (the default)
CENTER = (56.0, 64.0)  # point of the 112 px ArcFace frame placed at the crop's centre
EYE_WEIGHT = 10.0
_WEIGHTS = np.array([EYE_WEIGHT, EYE_WEIGHT, 1.0, 1.0, 1.0])


def template(size: int, zoom: float = ZOOM) -> np.ndarray:
    """Where the 5 keypoints land in a `size` px crop, (5, 2) like `AlignedFace.keypoints`."""
    to_crop = _to_crop(size, zoom)
    return ARCFACE_TEMPLATE @ to_crop[:, :2].T + to_crop[:, 2]


def align_face(image: np.ndarray, keypoints: np.ndarray, size: int, zoom: float = ZOOM) -> AlignedFace:
    """Warp `image` so the 5 keypoints land on `template(size, zoom)`; outside the frame is black."""
    points = np.asarray(keypoints, np.float64).reshape(5, 2)
    matrix = similarity(points, template(size, zoom), _WEIGHTS)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    kps = points @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(crop=crop, matrix=matrix, keypoints=kps.astype(np.float32))


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The 2×3 rotation + uniform scale + translation that best maps `src` onto `dst` (weighted least squares)."""
    w = weights / weights.sum()
    src_mean, dst_mean = w @ src, w @ dst
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd((dst_c * w[:, None]).T @ src_c)
    d = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])  # no reflections
    rotation = u @ d @ vt
    variance = float(w @ (src_c**2).sum(axis=1))
    scale = float(np.trace(np.diag(s) @ d)) / max(variance, 1e-12)
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def _to_crop(size: int, zoom: float = ZOOM) -> np.ndarray:
    """2×3 affine from the 112 px ArcFace frame to a zoomed-out `size` px crop."""
    scale = zoom * size / ARCFACE_SIZE
    return np.array(
        [[scale, 0.0, size / 2 - scale * CENTER[0]], [0.0, scale, size / 2 - scale * CENTER[1]]],
        dtype=np.float64,
    )
