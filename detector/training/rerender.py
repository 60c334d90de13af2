"""Re-rendered pseudo-fakes: a real crop painted through one of the project's small autoencoders.

Talking-head, lip-sync and face-swap generators all paint their output through a learned decoder; a
detector trained on real images against the *same* images passed through an autoencoder learns that
decoder trace and carries it across generators that share the mechanism (Rajan et al., "Aligned Datasets
Improve Detection of Latent Diffusion-Generated Images", ICLR 2025). The family of `autoencoder.py`
covers the four common upsamplers, whose spectral traces differ.

A fake is either the whole crop re-rendered (a talking-head generator paints the whole frame) or the
re-rendering blended back inside a face mask of `synthesis.py` — face, inner face or lower face and
mouth — as lip-sync and swap generators re-paint only part of a frame and paste it back; then, sometimes,
with the slight colour or sharpness mismatch such a paste leaves. Outside the mask the real pixels are
kept exactly, and the real of the pair is the untouched crop (post-processing is the sampler's, applied
to both alike). The clip version keeps one network and one mask recipe for the whole clip.

Weights are loaded once per folder (by default the committed `rerender_weights/`) and kept; nothing is
downloaded.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from detector.training.augment import ColourChange, FrequencyChange, apply_changes
from detector.training.autoencoder import SUFFIX, Autoencoder, WeightsError, load_autoencoder, paint
from detector.training.synthesis import (
    BlendResult,
    ClipResult,
    MaskParams,
    MaskShape,
    composite,
    draw_mask,
    sample_mask_params,
)

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "rerender_weights"

FULL_CROP_P = 0.25  # share of fakes that are the whole crop re-rendered, not a region blended back
# Regions blended back: the lower face (lip-sync, the family furthest below chance) most often.
REGION_P = {MaskShape.WHOLE: 0.2, MaskShape.RAISED: 0.1, MaskShape.INNER: 0.3, MaskShape.LOWER: 0.4}
COLOUR_SCALE = 24.0  # crop side / this = the σ of the blur under which the real's colour is kept
MISMATCH_P = 0.3  # share of region blends whose re-rendered part also differs slightly in colour or sharpness


@dataclass(frozen=True)
class Rerenderers:
    """The loaded autoencoders of one weights folder, by name."""

    folder: Path
    nets: dict[str, Autoencoder]

    @property
    def names(self) -> list[str]:
        return sorted(self.nets)

    def paint(self, crops: list[np.ndarray], name: str) -> list[np.ndarray]:
        """Crops of one size re-rendered by the network `name` (BGR uint8 in, same size BGR uint8 out),
        with the real crops' coarse colour kept (`keep_colour`)."""
        return [keep_colour(c, r) for c, r in zip(crops, paint(self.nets[name], crops), strict=True)]

    def pick(self, rng: np.random.Generator) -> str:
        """A network name drawn uniformly."""
        return self.names[int(rng.integers(len(self.names)))]


def keep_colour(real: np.ndarray, rendered: np.ndarray) -> np.ndarray:
    """`rendered` with its coarse colour error removed: `rendered + blur(real − rendered)`.

    The small networks sometimes miss the colour of a whole area (a saturated blue backdrop came out
    cyan through `transposed8`, 22 grey levels off). A generator's pipeline matches colour (swap tools
    colour-transfer their paste), and a tint would be a cue of our networks, not of generators. The blur
    (σ = side / 24: 8 px at 192 px) keeps everything finer — the re-synthesised detail and the
    upsampler's periodic trace — as the network painted it.
    """
    height, width = real.shape[:2]
    error = real.astype(np.float32) - rendered.astype(np.float32)
    # Blurred at a quarter of the size (5x cheaper): the field is smooth at this scale anyway.
    small = cv2.resize(error, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), height / COLOUR_SCALE / 4)
    out = rendered.astype(np.float32) + cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RerenderParams:
    """Everything random about one re-rendered fake (fixed for a whole clip)."""

    net: str  # which autoencoder
    mask: MaskParams | None  # None: the whole crop is re-rendered
    colour: ColourChange | None  # a slight mismatch of the pasted region (region blends only)
    frequency: FrequencyChange | None


def load_rerenderers(weights: Path | None = None) -> Rerenderers:
    """The autoencoders of `weights` (default: the committed ones), loaded once per folder."""
    return _load(Path(weights or DEFAULT_WEIGHTS).resolve())


@functools.cache
def _load(folder: Path) -> Rerenderers:
    files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not files:
        raise WeightsError(
            f"no re-rendering autoencoder weights (*{SUFFIX}) in {folder}: train them with "
            "`deepfake-monitor rerender-train --data CACHE... --out DIR` and pass --rerender-weights DIR"
        )
    nets = {}
    for path in files:
        net = load_autoencoder(path)
        nets[net.spec.name] = net
    logger.info("re-rendering autoencoders from %s: %s", folder, ", ".join(sorted(nets)))
    return Rerenderers(folder, nets)


def rerender(crop: np.ndarray, rng: np.random.Generator | None = None, weights: Path | None = None) -> np.ndarray:
    """One crop painted through an autoencoder (a random one with `rng`, else the first by name).

    The building block for other pseudo-fakes (e.g. a re-timed mouth that is also re-rendered): same size,
    BGR uint8, every pixel re-synthesised.
    """
    models = load_rerenderers(weights)
    name = models.pick(rng) if rng is not None else models.names[0]
    return models.paint([crop], name)[0]


def sample_rerender_params(rng: np.random.Generator, names: list[str]) -> RerenderParams:
    """Random network, region and mismatch."""
    net = names[int(rng.integers(len(names)))]
    if rng.random() < FULL_CROP_P:
        return RerenderParams(net, None, None, None)
    shapes = list(REGION_P)
    shape = shapes[int(rng.choice(len(shapes), p=list(REGION_P.values())))]
    # Full-strength pastes mostly: a generator's output replaces the region, it is not half-mixed in.
    mask = replace(sample_mask_params(rng), shape=shape, ratio=float(rng.choice([0.75, 1.0, 1.0])))
    colour = _mild_colour(rng) if rng.random() < MISMATCH_P / 2 else None
    frequency = _mild_frequency(rng) if rng.random() < MISMATCH_P / 2 else None
    return RerenderParams(net, mask, colour, frequency)


def _mild_colour(rng: np.random.Generator) -> ColourChange:
    """A colour mismatch a few levels strong: generators match colour well, not perfectly (SBI's is ~3x)."""
    return ColourChange(
        rgb_shift=tuple(float(v) for v in rng.uniform(-6, 6, 3)),  # type: ignore[arg-type]
        hue_shift=float(rng.uniform(-2, 2)),
        saturation=float(rng.uniform(0.92, 1.08)),
        value=float(rng.uniform(0.95, 1.05)),
        brightness=float(rng.uniform(-0.03, 0.03)),
        contrast=float(rng.uniform(0.95, 1.05)),
    )


def _mild_frequency(rng: np.random.Generator) -> FrequencyChange:
    """A region painted a little softer (a generator working at a lower resolution) or a little crisper."""
    if rng.random() < 0.6:
        return FrequencyChange(factor=float(rng.uniform(1.3, 2.0)), sharpen=0.0)
    return FrequencyChange(factor=1.0, sharpen=float(rng.uniform(0.2, 0.6)))


def blend_rendered(
    crop: np.ndarray, rendered: np.ndarray, keypoints: np.ndarray, params: RerenderParams
) -> BlendResult:
    """Put a re-rendering of `crop` back: all of it, or inside the mask (real pixels exact where it is 0)."""
    if params.mask is None:
        return BlendResult(real=crop, fake=rendered, mask=np.ones(crop.shape[:2], np.float32))
    pasted = apply_changes(rendered, params.colour, params.frequency)
    return composite(pasted, crop, draw_mask(keypoints, params.mask, crop.shape[0]))


def rerender_blend(crop: np.ndarray, keypoints: np.ndarray, params: RerenderParams, models: Rerenderers) -> BlendResult:
    """One re-rendered fake of an aligned crop."""
    return blend_rendered(crop, models.paint([crop], params.net)[0], keypoints, params)


def random_rerender(
    crop: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator, models: Rerenderers
) -> BlendResult:
    """A random re-rendered fake of one still."""
    return rerender_blend(crop, keypoints, sample_rerender_params(rng, models.names), models)


def rerender_clip(
    crops: list[np.ndarray], keypoints: list[np.ndarray], rng: np.random.Generator, models: Rerenderers
) -> ClipResult:
    """A re-rendered clip: one network, region and mismatch for every frame, masks from each frame's
    keypoints, all frames painted in one batch."""
    params = sample_rerender_params(rng, models.names)
    rendered = models.paint(crops, params.net)
    results = [blend_rendered(c, r, k, params) for c, r, k in zip(crops, rendered, keypoints, strict=True)]
    return ClipResult(
        real=[r.real for r in results],
        fake=[r.fake for r in results],
        masks=[r.mask for r in results],
        labels=np.ones(len(crops), np.float32),
    )
