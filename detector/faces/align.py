"""The one face crop used by serving and training: InsightFace's 5-point similarity alignment.

`insightface.utils.face_align.estimate_norm` maps the 5 keypoints onto the ArcFace template (a tight
112 px crop of eyes, nose and mouth). Blending artefacts of face swaps sit on the face *boundary*
(jaw, cheeks, forehead), which that crop cuts off, so the template is zoomed out by `ZOOM` about
`CENTER` before warping: the whole face with some margin fits the model's input.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
from insightface.utils import face_align

from detector.types import AlignedFace

ARCFACE_SIZE = 112
ZOOM = 0.75  # the ArcFace template scaled by this leaves chin and forehead inside the crop
CENTER = (56.0, 64.0)  # point of the 112 px ArcFace frame placed at the crop's centre


def template(size: int) -> np.ndarray:
    """Where the 5 keypoints land in a `size` px crop."""
    return _to_crop(size) @ np.vstack([face_align.arcface_dst.T, np.ones(5)])  # type: ignore[no-any-return]


def align_face(image: np.ndarray, keypoints: np.ndarray, size: int) -> AlignedFace:
    """Warp `image` so the 5 keypoints land on `template(size)`; outside the frame is black."""
    with warnings.catch_warnings():
        # scikit-image 0.26 warns that SimilarityTransform.estimate changes in 2.2.
        warnings.simplefilter("ignore", FutureWarning)
        to_arcface = face_align.estimate_norm(np.asarray(keypoints, np.float32), ARCFACE_SIZE)
    matrix = _to_crop(size) @ np.vstack([to_arcface, [0.0, 0.0, 1.0]])
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    kps = (matrix[:, :2] @ np.asarray(keypoints, np.float64).T).T + matrix[:, 2]
    return AlignedFace(crop=crop, matrix=matrix, keypoints=kps.astype(np.float32))


def _to_crop(size: int) -> np.ndarray:
    """2×3 affine from the 112 px ArcFace frame to a zoomed-out `size` px crop."""
    scale = ZOOM * size / ARCFACE_SIZE
    return np.array(
        [[scale, 0.0, size / 2 - scale * CENTER[0]], [0.0, scale, size / 2 - scale * CENTER[1]]],
        dtype=np.float64,
    )
