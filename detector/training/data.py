"""Cached faces in memory, the identity-level train/validation split, and video runs (clips)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from detector.training.cache import CachedFace, load_crop, read_index
from detector.training.cache_mesh import read_meshes, usable


@dataclass(frozen=True)
class SplitRule:
    """Which faces are validation: whole groups, never single frames.

    A group whose name starts with a `holdout` prefix is validation. In groups matched by an `item_split`
    prefix each item is its own identity (UTKFace: one person per photo) and items are hashed; every other
    group is hashed as a whole. Items in a data set's own "test" split are neither train nor validation.
    """

    holdout: tuple[str, ...] = ()
    item_split: tuple[str, ...] = ()
    val_fraction: float = 0.1

    def role(self, row: CachedFace) -> str:
        """'train', 'val' or 'test' for one row."""
        if row.split == "test":
            return "test"
        if any(row.group.startswith(p) for p in self.holdout):
            return "val"
        key = row.item if any(row.group.startswith(p) for p in self.item_split) else row.group
        return "val" if _unit_hash(key) < self.val_fraction else "train"


def _unit_hash(key: str) -> float:
    """Stable hash of a string into [0, 1): the same split on every machine and run."""
    return int(hashlib.md5(key.encode()).hexdigest()[:8], 16) / 2**32


@dataclass(frozen=True)
class Face:
    """A cached face loaded into memory."""

    row: CachedFace
    crop: np.ndarray = field(repr=False)
    keypoints: np.ndarray = field(repr=False)
    # (468, 2) face mesh in crop pixels; None in caches without meshes or where the model doubted the face.
    mesh: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FacePool:
    """Faces of one role, plus their video runs (lists of indices into `faces`, in frame order)."""

    faces: list[Face]
    runs: list[list[int]]

    @property
    def stills(self) -> list[int]:
        return [i for i, f in enumerate(self.faces) if f.row.kind == "image"]

    def real(self) -> list[int]:
        return [i for i, f in enumerate(self.faces) if f.row.label == 0]

    def labelled_fakes(self) -> list[int]:
        return [i for i, f in enumerate(self.faces) if f.row.label == 1]


def load_pools(caches: list[Path], rule: SplitRule) -> dict[str, FacePool]:
    """Read every cache and return pools for 'train', 'val' and 'test'."""
    grouped: dict[str, list[Face]] = defaultdict(list)
    for face in load_faces(caches):
        grouped[rule.role(face.row)].append(face)
    return {
        role: FacePool(faces, video_runs(faces))
        for role in ("train", "val", "test")
        for faces in [grouped.get(role, [])]
    }


def load_faces(caches: list[Path]) -> list[Face]:
    """Every face of the caches: crop, keypoints and, where the cache stores one, the face mesh."""
    rows = [(cache, row) for cache in caches for row in read_index(cache)]
    meshes = {cache: read_meshes(cache) for cache in caches}
    return [
        Face(row, load_crop(cache, row), row.keypoint_array(), usable(meshes[cache].get(row.file)))
        for cache, row in tqdm(rows, desc="load crops", unit="face", dynamic_ncols=True)
    ]


def video_runs(faces: list[Face]) -> list[list[int]]:
    """Consecutive analysis frames of each video item (face 0), split where the frame step jumps."""
    by_item: dict[str, list[int]] = defaultdict(list)
    for i, face in enumerate(faces):
        if face.row.kind == "video":
            by_item[face.row.item].append(i)
    runs: list[list[int]] = []
    for indices in by_item.values():
        indices.sort(key=lambda i: faces[i].row.frame)
        frames = np.array([faces[i].row.frame for i in indices])
        steps = np.diff(frames)
        step = int(steps.min()) if steps.size else 1
        current = [indices[0]]
        for index, gap in zip(indices[1:], steps, strict=True):
            if gap != step:
                runs.append(current)
                current = []
            current.append(index)
        runs.append(current)
    return runs
