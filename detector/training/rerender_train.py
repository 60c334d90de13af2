"""`rerender-train`: fit the autoencoder family of `autoencoder.py` on real face crops of prepared caches.

Only real faces of the training split are used (a cache row with label 1, or a split other than train,
is skipped), so nothing of a generator and nothing of dev reaches the networks. All networks train side by
side on the same batches of random patches (fully convolutional networks do not need whole crops, and a
64 px patch costs a ninth of a 192 px crop); each patch is cut from the crop rescaled by 0.67–1, so the
networks see faces at the 128 and the 192 px scale of the two crop sizes in use. A stable hash of the
item holds a few crops out; their PSNR goes into the recipe beside the weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from detector.training.autoencoder import (
    FAMILY,
    SUFFIX,
    Autoencoder,
    AutoencoderSpec,
    paint,
    parameter_count,
    save_autoencoder,
    to_tensor,
)
from detector.training.cache import CachedFace, CacheError, load_crop, read_index

logger = logging.getLogger(__name__)

RECIPE = "recipe.json"
TRAIN_SPLITS = ("", "train")  # "" = plain folders and package photos, which have no split


@dataclass(frozen=True)
class RerenderTrainConfig:
    """Everything that defines an autoencoder training run (written into the recipe)."""

    caches: tuple[Path, ...]
    out: Path
    minutes: float = 20.0  # wall-clock budget of the optimisation, all networks together
    steps: int = 100_000  # upper bound; on 2 shared cores the budget ends training first
    size: int | None = None  # resize every crop to this side first (None: as cached)
    patch: int = 64
    batch: int = 16
    lr: float = 2e-3
    gradient_weight: float = 0.5  # L1 on image gradients beside the pixel L1: keeps re-rendered detail crisp
    holdout: float = 0.05  # share of items held out for the PSNR in the recipe
    max_crops: int = 6000  # a memory bound: 6000 crops of 192 px are 660 MB
    frames_per_video: int = 8  # consecutive video frames are near-duplicates
    max_per_group: int = 800  # one large photo collection (UTKFace: 2,500) must not make up most of the data
    seed: int = 0
    # One thread: on a machine shared with other jobs, two-thread steps of these small convolutions ran
    # 5-10x slower than one-thread steps (threads wait on each other while the cores are busy elsewhere).
    threads: int = 1
    family: tuple[AutoencoderSpec, ...] = field(default=FAMILY)


@dataclass(frozen=True)
class RealCrops:
    """The crops a run uses and where they came from."""

    train: list[np.ndarray] = field(repr=False)
    heldout: list[np.ndarray] = field(repr=False)
    sources: list[dict[str, Any]]


def training_rows(rows: list[CachedFace], frames_per_video: int) -> list[CachedFace]:
    """Real faces of the training split; at most `frames_per_video` evenly spaced frames per video."""
    kept = [r for r in rows if r.label == 0 and r.split in TRAIN_SPLITS]
    by_item: dict[str, list[CachedFace]] = {}
    for row in kept:
        by_item.setdefault(row.item, []).append(row)
    selected: list[CachedFace] = []
    for item_rows in by_item.values():
        if item_rows[0].kind != "video" or len(item_rows) <= frames_per_video:
            selected += item_rows
            continue
        item_rows.sort(key=lambda r: (r.frame, r.face))
        picks = np.linspace(0, len(item_rows) - 1, frames_per_video).round().astype(int)
        selected += [item_rows[i] for i in sorted(set(picks.tolist()))]
    return selected


def cap_groups(rows: list[CachedFace], limit: int, rng: np.random.Generator) -> list[CachedFace]:
    """At most `limit` rows of any one group (a random subset of the larger groups), order kept."""
    by_group: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_group.setdefault(row.group, []).append(i)
    keep: set[int] = set()
    for indices in by_group.values():
        picked = indices if len(indices) <= limit else rng.choice(indices, size=limit, replace=False).tolist()
        keep.update(int(i) for i in picked)
    return [row for i, row in enumerate(rows) if i in keep]


def is_heldout(item: str, share: float) -> bool:
    """Stable per-item hash: the same crops are held out on every machine and run."""
    return int(hashlib.md5(f"rerender:{item}".encode()).hexdigest()[:8], 16) / 2**32 < share


def load_real_crops(config: RerenderTrainConfig, rng: np.random.Generator) -> RealCrops:
    """Read the training-split real faces of every cache (a bad cache is a one-line CacheError)."""
    chosen: list[tuple[Path, CachedFace]] = []
    sources = []
    for cache in config.caches:
        if not (cache / "index.csv").is_file():
            raise CacheError(f"{cache} is not a prepared cache (no index.csv)")
        rows = read_index(cache)
        kept = cap_groups(training_rows(rows, config.frames_per_video), config.max_per_group, rng)
        real = [r for r in rows if r.label == 0]
        sources.append(
            {
                "cache": str(cache),
                "rows": len(rows),
                "skipped_fakes": len(rows) - len(real),
                "skipped_not_train_split": sum(r.split not in TRAIN_SPLITS for r in real),
                "used": len(kept),
                "items": len({r.item for r in kept}),
            }
        )
        logger.info("%s: %d real training-split crops of %d rows", cache, len(kept), len(rows))
        chosen += [(cache, r) for r in kept]
    if not chosen:
        raise CacheError("no real faces of the training split in " + ", ".join(str(c) for c in config.caches))
    if len(chosen) > config.max_crops:
        picks = rng.choice(len(chosen), size=config.max_crops, replace=False)
        chosen = [chosen[int(i)] for i in sorted(picks)]
    heldout_items = _heldout_items(sorted({r.item for _, r in chosen}), config.holdout)
    train: list[np.ndarray] = []
    heldout: list[np.ndarray] = []
    for cache, row in chosen:
        crop = _resized(load_crop(cache, row), config.size)
        (heldout if row.item in heldout_items else train).append(crop)
    if min(c.shape[0] for c in train) < config.patch:
        raise CacheError(f"crops smaller than the {config.patch} px training patch: use a smaller --patch")
    return RealCrops(train, heldout, sources)


def _heldout_items(items: list[str], share: float) -> set[str]:
    """Hashed items, and at least one when there are several (a tiny cache still gets a held-out PSNR)."""
    held = {i for i in items if is_heldout(i, share)}
    if not held and len(items) > 1 and share > 0:
        held = {items[-1]}
    return held if len(held) < len(items) else set()


def _resized(crop: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or crop.shape[0] == size:
        return crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def sample_patches(crops: list[np.ndarray], patch: int, batch: int, rng: np.random.Generator) -> torch.Tensor:
    """`batch` random patches: a random crop rescaled by 0.67–1, flipped half the time, cut at random."""
    out = []
    for _ in range(batch):
        crop = crops[int(rng.integers(len(crops)))]
        side = max(patch, round(crop.shape[0] * rng.uniform(0.67, 1.0)))
        if side != crop.shape[0]:
            crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        y, x = (int(rng.integers(0, side - patch + 1)) for _ in range(2))
        out.append(np.ascontiguousarray(crop[y : y + patch, x : x + patch]))
    return to_tensor(out)


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, gradient_weight: float) -> torch.Tensor:
    """L1 on pixels plus `gradient_weight` × L1 on horizontal and vertical differences."""
    loss = F.l1_loss(output, target)
    if gradient_weight > 0:
        dx = F.l1_loss(output.diff(dim=3), target.diff(dim=3))
        dy = F.l1_loss(output.diff(dim=2), target.diff(dim=2))
        loss = loss + gradient_weight * (dx + dy)
    return loss


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def mean_psnr(net: Autoencoder, crops: list[np.ndarray], size: int | None = None) -> float | None:
    """Mean PSNR of crops (resized to `size` first, if given) against their re-rendering."""
    if not crops:
        return None
    resized = [_resized(c, size) for c in crops]
    values = [psnr(c, p) for start in range(0, len(resized), 32) for c, p in _pairs(net, resized[start : start + 32])]
    return round(float(np.mean(values)), 2)


def _pairs(net: Autoencoder, crops: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(zip(crops, paint(net, crops), strict=True))


def train_family(config: RerenderTrainConfig, command: str = "") -> dict[str, Any]:
    """Train every network of `config.family`, write `<name>.pt` files and `recipe.json`; return the recipe.

    `command` is the command line that ran it, kept in the recipe so the weights can be rebuilt.
    """
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    data = load_real_crops(config, rng)
    logger.info("%d training crops, %d held out", len(data.train), len(data.heldout))
    torch.manual_seed(config.seed)
    nets = [Autoencoder(spec).train() for spec in config.family]
    optimizers = [torch.optim.Adam(n.parameters(), lr=config.lr) for n in nets]
    started = time.monotonic()
    budget = config.minutes * 60
    step, losses = 0, np.zeros(len(nets))
    while step < config.steps and time.monotonic() - started < budget:
        progress = max(step / config.steps, (time.monotonic() - started) / budget)
        lr = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
        x = sample_patches(data.train, config.patch, config.batch, rng).contiguous(memory_format=torch.channels_last)
        for k, (net, optimizer) in enumerate(zip(nets, optimizers, strict=True)):
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = reconstruction_loss(net(x), x, config.gradient_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[k] = 0.98 * losses[k] + 0.02 * loss.item() if step else loss.item()
        step += 1
        if step % 100 == 0:
            logger.info("step %d, lr %.1e, loss %s", step, lr, " ".join(f"{v:.4f}" for v in losses))
    minutes = (time.monotonic() - started) / 60
    logger.info("trained %d steps in %.1f minutes", step, minutes)
    return _write(config, data, nets, step, minutes, command)


def _write(
    config: RerenderTrainConfig, data: RealCrops, nets: list[Autoencoder], steps: int, minutes: float, command: str
) -> dict[str, Any]:
    """Weights and recipe into `config.out`."""
    config.out.mkdir(parents=True, exist_ok=True)
    # Held-out PSNR falls back to the training crops only when a cache has a single item.
    judged, on = (data.heldout, "held-out items") if data.heldout else (data.train[:256], "training crops")
    models = {}
    for net in nets:
        net.eval()
        size = save_autoencoder(net, config.out / f"{net.spec.name}{SUFFIX}")
        models[net.spec.name] = {
            "file": f"{net.spec.name}{SUFFIX}",
            "spec": {**asdict(net.spec), "upsampler": net.spec.upsampler.value},
            "parameters": parameter_count(net),
            "bytes": size,
            "psnr": mean_psnr(net, judged),
            "psnr_at_128px": mean_psnr(net, judged, 128),
        }
        logger.info("%s: PSNR %s dB on %s", net.spec.name, models[net.spec.name]["psnr"], on)
    recipe = {
        "command": command,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "torch": torch.__version__,
        "data": data.sources,
        "crops": {"train": len(data.train), "psnr_on": on, "judged": len(judged)},
        "steps": steps,
        "minutes": round(minutes, 1),
        "config": {k: v for k, v in asdict(config).items() if k not in ("caches", "out", "family")},
        "models": models,
    }
    (config.out / RECIPE).write_text(json.dumps(recipe, indent=2) + "\n")
    return recipe
