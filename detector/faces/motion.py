"""Carries faces between detector runs with sparse optical flow (pyramidal Lucas-Kanade).

Running the detector on every analyzed frame is the largest single cost per frame. Faces move little
between analyzed frames, so the detector runs every k-th frame and the 5 keypoints of each face are
followed by optical flow in between, on the grey of the frame's shared small copy (the detector's
working size: plenty for faces, a fraction of the cost). A face whose points cannot be followed is
dropped until the next detection.
"""

from __future__ import annotations

import cv2
import numpy as np

from detector.faces.downscale import Downscaled
from detector.types import Box, Detection

_LK = {"winSize": (21, 21), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
_MAX_ERROR = 30.0


class KeypointFlow:
    """Remembers the last frame and its faces; moves those faces onto the next frame."""

    def __init__(self) -> None:
        self._grey: np.ndarray | None = None
        self._scale = 1.0
        self._faces: list[Detection] = []

    def remember(self, frame: Downscaled, faces: list[Detection]) -> None:
        """`faces` (full-frame pixels) were found on `frame`: follow them from here."""
        self._grey, self._scale = frame.grey, frame.scale
        self._faces = faces

    def follow(self, frame: Downscaled) -> list[Detection]:
        """The remembered faces moved onto `frame` (which becomes the new reference)."""
        grey, scale = frame.grey, frame.scale
        if self._grey is None or not self._faces or grey.shape != self._grey.shape:
            self._grey, self._scale, self._faces = grey, scale, []
            return []
        points = np.concatenate([f.keypoints for f in self._faces]).astype(np.float32) * scale
        # OpenCV's stubs want an array for nextPts; None (let OpenCV allocate it) is what its docs use.
        moved, status, error = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
            self._grey, grey, points.reshape(-1, 1, 2), None, **_LK
        )
        ok = (status.ravel() == 1) & (error.ravel() < _MAX_ERROR)
        faces = []
        for i, face in enumerate(self._faces):
            span = slice(5 * i, 5 * i + 5)
            if ok[span].all():
                faces.append(_moved(face, moved.reshape(-1, 2)[span] / scale))
        self._grey, self._scale, self._faces = grey, scale, faces
        return faces


def _moved(face: Detection, keypoints: np.ndarray) -> Detection:
    """The box follows the keypoints: same offset from their centre, scaled with their spread."""
    old_c, new_c = face.keypoints.mean(axis=0), keypoints.mean(axis=0)
    old_s = float(np.linalg.norm(face.keypoints - old_c, axis=1).mean())
    new_s = float(np.linalg.norm(keypoints - new_c, axis=1).mean())
    k = new_s / old_s if old_s > 1e-6 else 1.0
    b = face.box
    # float(): numpy scalars in a Box would leak into JSON output, which refuses them.
    box = Box(
        float(new_c[0] + (b.x1 - old_c[0]) * k),
        float(new_c[1] + (b.y1 - old_c[1]) * k),
        float(new_c[0] + (b.x2 - old_c[0]) * k),
        float(new_c[1] + (b.y2 - old_c[1]) * k),
    )
    return Detection(box=box, keypoints=keypoints.astype(np.float32), score=face.score)
