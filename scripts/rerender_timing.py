"""Milliseconds per crop of the re-rendering autoencoders and of a whole re-rendered pseudo-fake, one thread.

    python scripts/rerender_timing.py [CACHE] [--weights DIR] [--repeats 30]

Times each network alone (one crop per call, and batches of 16 as the clip version paints them) at 128
and 192 px, then `random_rerender` (network + mask + blend) — and, for comparison, a self-blend and a
warp-blend — on the cache's real crops resized to each size. Without CACHE, the faces of the photos
shipped in installed packages are used. Prints JSON. Times are CPU time of this process
(`time.process_time`), the minimum of `--repeats` calls for the networks: on a machine shared with other
jobs, wall-clock time mostly measures the wait for a core.
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

from detector.training.cache import load_crop, read_index
from detector.training.examples import Maker
from detector.training.pseudo import random_warp_blend
from detector.training.rerender import load_rerenderers, random_rerender
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, nargs="?", default=None)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
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
