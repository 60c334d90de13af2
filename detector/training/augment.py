"""Image-level augmentations shared by self-blending, clip synthesis and training.

Every augmentation is split into a frozen parameter record sampled once and a pure function that applies
it. That split is what lets a real face and its fake get *identical* post-processing (the classifier must
not learn "JPEG quality differs"), and lets a clip keep one set of parameters across all its frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from io import BytesIO

import av
import cv2
import numpy as np

# Pixel-sized parameters (blur radii, shifts) are given for a crop of this size and scaled to the crop at hand.
REFERENCE_SIZE = 128


@dataclass(frozen=True)
class ColourChange:
    """A colour shift: per-channel offsets (BGR), saturation and value gains, brightness, contrast."""

    rgb_shift: tuple[float, float, float]
    hue_shift: float  # OpenCV hue units (0..180)
    saturation: float
    value: float
    brightness: float
    contrast: float


@dataclass(frozen=True)
class FrequencyChange:
    """Blur by down- and up-scaling (`factor` > 1), or sharpen with an unsharp mask (`sharpen` > 0)."""

    factor: float
    sharpen: float


@dataclass(frozen=True)
class PostAugment:
    """Post-processing applied alike to a real face and its fake."""

    brightness: float
    contrast: float
    saturation: float
    rescale: float  # 1.0 = none; < 1 down-scales then up-scales back
    jpeg_quality: int | None
    h264_crf: int | None  # an intra-coded H.264 round trip instead of JPEG
    h264_scale: float
    flip: bool


def sample_colour_change(rng: np.random.Generator) -> ColourChange:
    """SBI's colour step: RGB shift ±20, hue/saturation/value ±30 %, brightness/contrast ±10 %."""
    return ColourChange(
        rgb_shift=tuple(float(v) for v in rng.uniform(-20, 20, 3)),  # type: ignore[arg-type]
        hue_shift=float(rng.uniform(-6, 6)),
        saturation=float(rng.uniform(0.7, 1.3)),
        value=float(rng.uniform(0.7, 1.3)),
        brightness=float(rng.uniform(-0.1, 0.1)),
        contrast=float(rng.uniform(0.9, 1.1)),
    )


def sample_frequency_change(rng: np.random.Generator) -> FrequencyChange:
    """Either a ×2–4 down/up-scale blur or a sharpen, 50/50."""
    if rng.random() < 0.5:
        return FrequencyChange(factor=float(rng.uniform(2.0, 4.0)), sharpen=0.0)
    return FrequencyChange(factor=1.0, sharpen=float(rng.uniform(0.5, 1.5)))


def sample_post_augment(rng: np.random.Generator) -> PostAugment:
    """Mild colour jitter, sometimes a down/up-scale, usually JPEG at quality 40–100 or H.264, random flip."""
    codec = rng.random()
    return PostAugment(
        brightness=float(rng.uniform(-0.08, 0.08)),
        contrast=float(rng.uniform(0.9, 1.1)),
        saturation=float(rng.uniform(0.8, 1.2)),
        # Often, and down to a third: small, soft faces (60 px webcam faces) must not read as "fake".
        rescale=float(rng.uniform(0.3, 0.9)) if rng.random() < 0.4 else 1.0,
        jpeg_quality=int(rng.integers(40, 101)) if codec < 0.5 else None,
        h264_crf=int(rng.integers(18, 36)) if 0.5 <= codec < 0.7 else None,
        h264_scale=float(rng.uniform(0.6, 1.0)),
        flip=bool(rng.random() < 0.5),
    )


def apply_changes(image: np.ndarray, colour: ColourChange | None, frequency: FrequencyChange | None) -> np.ndarray:
    """A colour change, then a frequency change, each only when given (one side of a blend, a pasted region)."""
    out = image
    if colour is not None:
        out = colour_change(out, colour)
    if frequency is not None:
        out = frequency_change(out, frequency)
    return out


def colour_change(image: np.ndarray, change: ColourChange) -> np.ndarray:
    """Apply a ColourChange to a BGR uint8 image."""
    out = image.astype(np.float32) + np.asarray(change.rgb_shift, np.float32)
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + change.hue_shift) % 180
    hsv[..., 1] *= change.saturation
    hsv[..., 2] *= change.value
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    out = (out - 127.5) * change.contrast + 127.5 + 255 * change.brightness
    return np.clip(out, 0, 255).astype(np.uint8)


def frequency_change(image: np.ndarray, change: FrequencyChange) -> np.ndarray:
    """Apply a FrequencyChange to a BGR uint8 image."""
    if change.factor > 1.0:
        return rescale(image, 1.0 / change.factor)
    blurred = cv2.GaussianBlur(image, (0, 0), image.shape[0] / REFERENCE_SIZE)
    return cv2.addWeighted(image, 1.0 + change.sharpen, blurred, -change.sharpen, 0)


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """Down-scale by `factor` (< 1) and back: loses high frequencies like a low-resolution source."""
    height, width = image.shape[:2]
    small_size = (max(8, round(width * factor)), max(8, round(height * factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: high for crisp detail, low for soft or small faces."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


MATCH_STEPS = (0.85, 0.7, 0.6, 0.5, 0.42, 0.35, 0.3)


def match_sharpness(a: np.ndarray, b: np.ndarray, tolerance: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Soften the sharper of two crops (down/up-scaling) until it is no sharper than `tolerance` × the other.

    A labelled fake from a clean studio render and a real face from a webcam differ in sharpness for
    reasons that have nothing to do with manipulation; matching them inside a training pair takes that
    shortcut away in both directions.
    """
    sa, sb = sharpness(a), sharpness(b)
    if sa > tolerance * sb:
        return _soften_to(a, sb * tolerance), b
    if sb > tolerance * sa:
        return a, _soften_to(b, sa * tolerance)
    return a, b


def _soften_to(image: np.ndarray, target: float) -> np.ndarray:
    out = image
    for factor in MATCH_STEPS:
        out = rescale(image, factor)
        if sharpness(out) <= target:
            break
    return out


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip at `quality`."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return image if decoded is None else np.asarray(decoded, np.uint8)


def post_augment(image: np.ndarray, aug: PostAugment) -> np.ndarray:
    """Apply a PostAugment to one BGR uint8 image."""
    out = image.astype(np.float32)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * aug.saturation
    out = (out - 127.5) * aug.contrast + 127.5 + 255 * aug.brightness
    result = np.clip(out, 0, 255).astype(np.uint8)
    if aug.rescale < 1.0:
        result = rescale(result, aug.rescale)
    if aug.jpeg_quality is not None:
        result = jpeg(result, aug.jpeg_quality)
    if aug.h264_crf is not None:
        result = h264_roundtrip([result], aug.h264_crf, aug.h264_scale)[0]
    return np.ascontiguousarray(result[:, ::-1]) if aug.flip else result


def h264_roundtrip(frames: list[np.ndarray], crf: int, scale: float = 1.0) -> list[np.ndarray]:
    """Encode BGR frames as H.264 (libx264, yuv420p) at `crf` and decode them back.

    `scale` < 1 encodes a smaller picture, as when a face fills only part of a real video frame; the
    decoded frames are scaled back to the input size.
    """
    height, width = frames[0].shape[:2]
    enc_w, enc_h = (max(16, round(width * scale)) // 2 * 2, max(16, round(height * scale)) // 2 * 2)
    buffer = BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(15, 1))
        stream.width, stream.height, stream.pix_fmt = enc_w, enc_h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        for frame in frames:
            small = np.asarray(cv2.resize(frame, (enc_w, enc_h), interpolation=cv2.INTER_AREA), np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(small, format="bgr24")))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        raw = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    decoded: list[np.ndarray] = [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in raw]
    # Never return fewer frames than were given, whatever the encoder did.
    while len(decoded) < len(frames):
        decoded.append(decoded[-1])
    return decoded[: len(frames)]
