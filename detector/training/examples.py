"""Example pseudo-fakes (self-blends, warp-blends, re-renderings) as PNGs, and the documentation grid of
real/fake/mask triples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from detector.training.cache import load_crop, read_index
from detector.training.pseudo import random_warp_blend
from detector.training.rerender import load_rerenderers, random_rerender
from detector.training.synthesis import BlendResult, self_blend

Maker = Callable[[np.ndarray, np.ndarray, np.random.Generator], BlendResult]


def maker(kind: str, rerender_weights: Path | None = None) -> Maker:
    """The pseudo-fake function of a kind (re-rendering loads its autoencoders now: missing ones fail early)."""
    if kind == "rerender":
        models = load_rerenderers(rerender_weights)
        return lambda crop, keypoints, rng: random_rerender(crop, keypoints, rng, models)
    return random_warp_blend if kind == "warp" else self_blend


def write_examples(
    cache: Path,
    out: Path,
    count: int,
    seed: int,
    grid: Path | None = None,
    make: Maker = self_blend,
    diff: bool = False,
) -> int:
    """Write `count` real/fake/mask PNG triples from random faces of `cache`; optionally a grid."""
    rng = np.random.default_rng(seed)
    rows = [r for r in read_index(cache) if r.label == 0]
    out.mkdir(parents=True, exist_ok=True)
    triples = []
    for k, i in enumerate(rng.choice(len(rows), size=min(count, len(rows)), replace=False)):
        row = rows[int(i)]
        result = make(load_crop(cache, row), row.keypoint_array(), rng)
        cv2.imwrite(str(out / f"{k:03d}_real.png"), result.real)
        cv2.imwrite(str(out / f"{k:03d}_fake.png"), result.fake)
        cv2.imwrite(str(out / f"{k:03d}_mask.png"), _mask_image(result))
        triples.append(result)
    if grid is not None:
        write_grid(triples[:6], grid, diff=diff)
    return len(triples)


def _diff_image(result: BlendResult) -> np.ndarray:
    """|fake − real| × 4: a re-rendering is hard to see at thumbnail size; its difference is not."""
    return cv2.convertScaleAbs(cv2.absdiff(result.fake, result.real), alpha=4.0)


def _mask_image(result: BlendResult) -> np.ndarray:
    return cv2.cvtColor(np.round(result.mask * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def write_grid(triples: list[BlendResult], path: Path, columns: int = 2, diff: bool = False) -> None:
    """Real | fake | mask per cell (| |fake − real| × 4 with `diff`), `columns` cells per row, small gaps."""
    cells = [np.hstack([t.real, t.fake, _mask_image(t)] + ([_diff_image(t)] if diff else [])) for t in triples]
    gap = np.full((cells[0].shape[0], 8, 3), 255, np.uint8)
    while len(cells) % columns:
        cells.append(np.zeros_like(cells[0]))
    rows = [
        np.hstack([x for c in cells[r : r + columns] for x in (c, gap)][:-1]) for r in range(0, len(cells), columns)
    ]
    hgap = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([x for r in rows for x in (r, hgap)][:-1]))
