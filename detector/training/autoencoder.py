"""Small convolutional autoencoders that re-render face crops, one per decoder upsampling type.

Nearly every talking-head, lip-sync and face-swap generator paints its output through a learned decoder,
and the decoder's upsampling layers leave periodic spectral traces whose form depends on the upsampler
(Durall et al., "Watch your Up-Convolution", CVPR 2020; Frank et al., "Leveraging Frequency Analysis for
Deep Fake Image Recognition", ICML 2020). Real crops passed through these networks are the
"re-rendered" pseudo-fakes of `rerender.py` (the aligned-data idea of Rajan et al., ICLR 2025).

Each network squeezes the crop to 1/4 or 1/8 of its side through a narrow bottleneck, so the decoder
really re-synthesises the fine detail (PSNR around 30 dB, the face plainly the same) instead of copying
it; there is no skip connection for the same reason. Weights are stored in float16, one file per network,
with the architecture beside them, so a folder of them is self-describing.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

FORMAT = 1  # version of the weight file layout
SUFFIX = ".pt"
MARGIN = 16  # px of reflected border around a crop while it is painted (two cells of a 1/8 bottleneck)


class Upsampler(StrEnum):
    """How a decoder doubles its resolution; each leaves its own periodic pattern in the spectrum."""

    TRANSPOSED = "transposed"  # ConvTranspose 4×4 stride 2: the checkerboard of many GAN generators
    NEAREST = "nearest"  # nearest-neighbour ×2, then a 3×3 convolution
    BILINEAR = "bilinear"  # bilinear ×2, then a 3×3 convolution (the VAE decoders of latent diffusion)
    PIXEL_SHUFFLE = "pixel_shuffle"  # a 3×3 convolution to 4× the channels, then a sub-pixel shuffle


@dataclass(frozen=True)
class AutoencoderSpec:
    """The architecture of one autoencoder (stored in its weight file)."""

    name: str
    upsampler: Upsampler
    encoder: tuple[int, ...]  # channels after each stride-2 stage: 2 stages = 1/4, 3 stages = 1/8
    latent: int  # bottleneck channels: few enough that the decoder must re-synthesise detail
    decoder: tuple[int, ...]  # channels at the bottleneck, then after each upsampling step but the last
    deep: int = 0  # extra 3×3 convolutions at the bottleneck's resolution, each side (cheap at 1/8)

    @property
    def factor(self) -> int:
        """Side of a crop over side of the bottleneck."""
        return 2 ** len(self.encoder)


# The family trained by `rerender-train`: every upsampler, two at each bottleneck depth. The bottleneck
# holds 1/6 (at 1/8) or 1/12 (at 1/4) as many numbers as the crop: a 20-minute run on one core ends at
# 28-34 dB on held-out faces. Channels shrink towards full resolution, where every multiply costs most.
FAMILY = (
    AutoencoderSpec("transposed8", Upsampler.TRANSPOSED, (16, 32, 64), 32, (64, 32, 16)),
    AutoencoderSpec("nearest4", Upsampler.NEAREST, (16, 48), 4, (48, 16)),
    AutoencoderSpec("bilinear8", Upsampler.BILINEAR, (16, 32, 64), 32, (64, 32, 16)),
    AutoencoderSpec("shuffle4", Upsampler.PIXEL_SHUFFLE, (16, 48), 4, (48, 16)),
)


class WeightsError(FileNotFoundError):
    """Autoencoder weights that are missing or unreadable (one line for the user)."""


def _up(cin: int, cout: int, kind: Upsampler) -> nn.Module:
    """One ×2 upsampling step of the given kind."""
    if kind is Upsampler.TRANSPOSED:
        return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
    if kind is Upsampler.PIXEL_SHUFFLE:
        return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2))
    mode = "nearest" if kind is Upsampler.NEAREST else "bilinear"
    return nn.Sequential(nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(cin, cout, 3, padding=1))


class Autoencoder(nn.Module):
    """Encoder of stride-2 convolutions down to the bottleneck, decoder of `spec.upsampler` steps back up.

    Input and output are BGR in [0, 1] as (N, 3, H, W) with H and W divisible by `spec.factor`. The last
    upsampling step writes the three colour channels directly, so its trace lands on the pixels as a
    generator's last layer does.
    """

    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        self.spec = spec
        if len(spec.decoder) != len(spec.encoder):
            raise ValueError(f"{spec.name}: as many decoder as encoder stages, not {spec.decoder}, {spec.encoder}")
        down: list[nn.Module] = []
        cin = 3
        for c in spec.encoder:
            down += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.LeakyReLU(0.1)]
            cin = c
        for _ in range(spec.deep):
            down += [nn.Conv2d(cin, cin, 3, padding=1), nn.LeakyReLU(0.1)]
        down.append(nn.Conv2d(cin, spec.latent, 1))
        self.encoder = nn.Sequential(*down)
        up: list[nn.Module] = [nn.Conv2d(spec.latent, spec.decoder[0], 3, padding=1), nn.LeakyReLU(0.1)]
        for _ in range(spec.deep):
            up += [nn.Conv2d(spec.decoder[0], spec.decoder[0], 3, padding=1), nn.LeakyReLU(0.1)]
        for cin, cout in zip(spec.decoder, [*spec.decoder[1:], 3], strict=True):
            up.append(_up(cin, cout, spec.upsampler))
            if cout != 3:
                up.append(nn.LeakyReLU(0.1))
        self.decoder = nn.Sequential(*up)
        # Channels-last: the layout oneDNN runs these narrow convolutions in fastest on CPU (~1.5x).
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centred input and output: the networks learn the picture, not its mean grey level.
        return self.decoder(self.encoder(x - 0.5)) + 0.5


def to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 crops of one size → (N, 3, H, W) float32 in [0, 1]."""
    batch = np.stack(crops).astype(np.float32) / 255.0
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, whatever the process uses elsewhere.

    These convolutions are too narrow to split: inside a 2-thread training process on a busy machine a
    192 px crop took ~90 ms (median) on two threads against ~9 ms on one, the threads waiting on each other.
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def paint(net: Autoencoder, crops: list[np.ndarray], margin: int = MARGIN) -> list[np.ndarray]:
    """Crops of one size through the network, same size and dtype out (BGR uint8).

    The crop is reflect-padded by `margin` px (and up to a multiple of the network's factor) for the pass
    and cut back: the zero padding inside the convolutions spoils the outermost pixels, and a fake whose
    crop border alone is wrong would teach a cue no generator leaves (a generator paints a whole frame).
    """
    height, width = crops[0].shape[:2]
    factor = net.spec.factor
    bottom, right = margin + (-(height + 2 * margin) % factor), margin + (-(width + 2 * margin) % factor)
    padded = np.stack([cv2.copyMakeBorder(c, margin, bottom, margin, right, cv2.BORDER_REFLECT_101) for c in crops])
    # (N, H, W, 3) viewed as (N, 3, H, W) is already channels-last: no copy on the way in or out.
    x = torch.from_numpy(padded).permute(0, 3, 1, 2).float().div_(255.0)
    with one_thread():
        out = net(x)[:, :, margin : margin + height, margin : margin + width].permute(0, 2, 3, 1)
    array = out.clamp(0, 1).mul_(255.0).round_().to(torch.uint8).numpy()
    return [np.ascontiguousarray(a) for a in array]


def save_autoencoder(net: Autoencoder, path: Path) -> int:
    """Write the float16 weights and the architecture; returns the file size in bytes."""
    spec = {**asdict(net.spec), "upsampler": net.spec.upsampler.value}
    state = {k: v.detach().half() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "spec": spec, "state": state}, path)
    return path.stat().st_size


def load_autoencoder(path: Path) -> Autoencoder:
    """A network from a file written by `save_autoencoder`, in eval mode and float32."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        raw = payload["spec"]
        spec = AutoencoderSpec(
            name=str(raw["name"]),
            upsampler=Upsampler(raw["upsampler"]),
            encoder=tuple(int(c) for c in raw["encoder"]),
            latent=int(raw["latent"]),
            decoder=tuple(int(c) for c in raw["decoder"]),
            deep=int(raw.get("deep", 0)),
        )
        net = Autoencoder(spec)
        net.load_state_dict({k: v.float() for k, v in payload["state"].items()})
    except FileNotFoundError as exc:
        raise WeightsError(f"no autoencoder weights at {path}") from exc
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot load autoencoder weights {path}: {first}") from exc
    return net.eval()


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
