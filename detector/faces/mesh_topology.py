"""Named parts of the 468-point MediaPipe face mesh, and measurements made from them.

The index lists are facts of the mesh's fixed topology (the same vertex always lands on the same spot
of every face). "Right" and "left" are the subject's own, as in MediaPipe: the subject's right eye is on
the image's left in an unmirrored picture. Contours are listed in drawing order, so each one is a
closed polygon as it stands.
"""

from __future__ import annotations

import numpy as np

POINTS = 468

# Forehead top → subject's left side → chin (152) → subject's right side.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Right mouth corner (61) along the lower lip to the left corner (291), back along the upper lip.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
# Bridge from between the brows (168) to the tip (1) and the point under it (2), then the nostril wings.
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 64, 294)

NOSE_TIP = 1
UPPER_LIP_INNER = 13  # middle of the upper lip's inner edge
LOWER_LIP_INNER = 14
CHIN = 152
FOREHEAD = 10

# Points the jaw and lips do not move: nose, inner and outer eye corners, the face's sides at eye and
# cheekbone height. A lower face moved from one frame onto another is placed by these alone, so the
# mouth keeps the shape it had in its own frame.
STABLE = (*NOSE, 33, 133, 362, 263, 127, 356, 234, 454, 93, 323)


def eye_centres(points: np.ndarray) -> np.ndarray:
    """(2, 2): the subject's right then left eye centre (mean of each eye contour)."""
    return np.stack([points[list(RIGHT_EYE)].mean(axis=0), points[list(LEFT_EYE)].mean(axis=0)])


def interocular(points: np.ndarray) -> float:
    """Distance between the eye centres: the face's length unit."""
    right, left = eye_centres(points)
    return float(np.linalg.norm(left - right))


def up_vector(points: np.ndarray) -> np.ndarray:
    """Unit vector from the mouth towards the eyes (face 'up', whatever the roll)."""
    direction = eye_centres(points).mean(axis=0) - points[list(LIPS_OUTER)].mean(axis=0)
    return direction / max(float(np.linalg.norm(direction)), 1e-6)


def mouth_opening(points: np.ndarray) -> float:
    """Gap between the inner lips in eye distances (0 closed, ≈ 0.5 wide open)."""
    gap = float(np.linalg.norm(points[LOWER_LIP_INNER] - points[UPPER_LIP_INNER]))
    return gap / max(interocular(points), 1e-6)
