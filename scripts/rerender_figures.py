"""Figures of the re-rendering autoencoders for docs/MODEL.md: CPU time per crop, and PSNR as used.

    python scripts/rerender_figures.py timing [CACHE] [--weights DIR] [--repeats 30]
    python scripts/rerender_figures.py psnr --data CACHE... [--weights DIR]
    python scripts/rerender_figures.py spectrum --data CACHE... [--weights DIR] [--crops 40]

`timing` times each network alone (one crop per call, and batches of 16 as the clip version paints them)
at 128 and 192 px, then `random_rerender` (network + mask + blend) — and, for comparison, a self-blend
and a warp-blend — on the cache's real crops resized to each size. Without CACHE, the faces of the
photos shipped in installed packages are used. Times are CPU time of this process
(`time.process_time`), the minimum of `--repeats` calls for the networks: on a machine shared with other
jobs, wall-clock time mostly measures the wait for a core.

`psnr` rebuilds the held-out crops of the weights' recipe (same caches, same settings and seed) and
reports, per network, the PSNR of the bare network (the recipe's figure) and of the re-rendering as the
pseudo-fakes use it (real colour kept), at the cached size and at 128 px, and the largest shift of a
channel mean. `spectrum` averages the magnitude spectrum of the residual (re-rendering − real, grey)
over the same held-out crops and reports, at the frequencies of period 2, 4 and 8 px, how far it stands
above the bins around it (1 = no periodic trace). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from detector.training.autoencoder import paint
from detector.training.cache import load_crop, read_index
from detector.training.examples import Maker
from detector.training.pseudo import random_warp_blend
from detector.training.rerender import load_rerenderers, random_rerender
from detector.training.rerender_train import RECIPE, RerenderTrainConfig, load_real_crops, psnr
from detector.training.synthesis import self_blend


def best_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return min(times) * 1000


def faces(cache: Path | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(crop, keypoints) of a cache's real rows, or of the package photos' faces."""
    if cache is not None:
        rows = [r for r in read_index(cache) if r.label == 0][:8]
        return [(load_crop(cache, r), r.keypoint_array()) for r in rows]
    from detector.config import RetinaFaceConfig
    from detector.faces.align import align_face
    from detector.faces.retinaface import RetinaFaceDetector
    from detector.training.sources import package_faces

    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    out = []
    for item in package_faces():
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        for det in detector.detect(image)[:2]:
            aligned = align_face(image, det.keypoints, 192)
            out.append((aligned.crop, aligned.keypoints))
    return out


def timing(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    torch.set_num_threads(1)
    models = load_rerenderers(args.weights)
    samples = faces(args.cache)
    report: dict[str, dict[str, float]] = {}
    for size in (128, 192):
        scaled = []
        for crop, keypoints in samples:
            k = size / crop.shape[0]
            scaled.append((cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), keypoints * k))
        crop = scaled[0][0]
        for name in models.names:
            report[f"{name}@{size}"] = {
                "single_ms": round(best_ms(lambda n=name, c=crop: models.paint([c], n), args.repeats), 2),
                "batch16_ms_per_crop": round(
                    best_ms(lambda n=name, c=crop: models.paint([c] * 16, n), max(3, args.repeats // 5)) / 16, 2
                ),
            }
        for name, make in (
            ("random_rerender", lambda c, k, r: random_rerender(c, k, r, models)),
            ("self_blend (for comparison)", self_blend),
            ("random_warp_blend (for comparison)", random_warp_blend),
        ):
            report[f"{name}@{size}"] = {"mean_ms": round(fake_ms(scaled, make, args.repeats * 2), 2)}
    return report


def psnr_as_used(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    models = load_rerenderers(args.weights)
    recipe = json.loads((models.folder / RECIPE).read_text())
    config = RerenderTrainConfig(caches=tuple(args.data), out=models.folder, **recipe["config"])
    heldout = load_real_crops(config, np.random.default_rng(config.seed)).heldout
    report = {}
    for name in models.names:
        row: dict[str, float] = {"crops": len(heldout)}
        for size in (None, 128):
            crops = [c if size is None else cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in heldout]
            raw = [paint(models.nets[name], [c])[0] for c in crops]
            kept = [models.paint([c], name)[0] for c in crops]
            tag = "" if size is None else "_128px"
            row[f"psnr_network{tag}"] = round(float(np.mean([psnr(c, r) for c, r in zip(crops, raw, strict=True)])), 2)
            row[f"psnr_as_used{tag}"] = round(float(np.mean([psnr(c, k) for c, k in zip(crops, kept, strict=True)])), 2)
            if size is None:
                row["colour_shift_network"] = round(max(_shift(c, r) for c, r in zip(crops, raw, strict=True)), 2)
                row["colour_shift_as_used"] = round(max(_shift(c, k) for c, k in zip(crops, kept, strict=True)), 2)
        report[name] = row
    return report


PERIODS = {"1/2,0": (0, 2), "1/2,1/2": (2, 2), "1/4,0": (0, 4), "1/4,1/4": (4, 4), "1/8,0": (0, 8)}


def spectrum(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    models = load_rerenderers(args.weights)
    recipe = json.loads((models.folder / RECIPE).read_text())
    config = RerenderTrainConfig(caches=tuple(args.data), out=models.folder, **recipe["config"])
    crops = load_real_crops(config, np.random.default_rng(config.seed)).heldout[: args.crops]
    size = crops[0].shape[0]
    report = {}
    for name in models.names:
        total = np.zeros((size, size))
        for crop, fake in zip(crops, models.paint(crops, name), strict=True):
            residual = fake.astype(np.float32).mean(axis=2) - crop.astype(np.float32).mean(axis=2)
            total += np.abs(np.fft.fft2(residual - residual.mean()))
        report[name] = {
            f"{key} cycles/px": round(_peak(total, size // py if py else 0, size // px), 2)
            for key, (py, px) in PERIODS.items()
        }
    return report


def _peak(spec: np.ndarray, y: int, x: int) -> float:
    """A bin of the spectrum over the mean of the 8 bins two steps around it."""
    n = spec.shape[0]
    around = [spec[(y + dy) % n, (x + dx) % n] for dy in (-2, 0, 2) for dx in (-2, 0, 2) if dy or dx]
    return float(spec[y, x] / np.mean(around))


def _shift(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference of a channel mean, grey levels."""
    return float(np.abs(a.reshape(-1, 3).mean(0) - b.reshape(-1, 3).mean(0)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="figure", required=True)
    p = sub.add_parser("timing")
    p.add_argument("cache", type=Path, nargs="?", default=None)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--repeats", type=int, default=30)
    p = sub.add_parser("psnr")
    p.add_argument("--data", type=Path, nargs="+", required=True)
    p.add_argument("--weights", type=Path, default=None)
    p = sub.add_parser("spectrum")
    p.add_argument("--data", type=Path, nargs="+", required=True)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--crops", type=int, default=40)
    args = parser.parse_args()
    report = {"timing": timing, "psnr": psnr_as_used, "spectrum": spectrum}[args.figure](args)
    print(json.dumps(report, indent=2))


def fake_ms(samples: list[tuple[np.ndarray, np.ndarray]], make: Maker, count: int) -> float:
    """Mean, not minimum, over `count` random fakes: the cost varies with the network and the region."""
    rng = np.random.default_rng(0)
    make(*samples[0], rng)
    start = time.process_time()
    for k in range(count):
        make(*samples[k % len(samples)], rng)
    return (time.process_time() - start) / count * 1000


if __name__ == "__main__":
    main()
