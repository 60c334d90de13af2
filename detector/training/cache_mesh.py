"""Face meshes of cached crops: written by `prepare`, added to older caches by `add-mesh`, read by training.

Each item folder of a cache may hold `mesh.npz` beside its crops:
    files      (N,) str       crop file names in the folder (e.g. 000010_0.png)
    points     (N, 468, 2)    float16, x y in crop pixels
    presence   (N,)           float16, the model's face-presence probability

It is written (atomically) before the item's `faces.json`, so a finished item has both or, in caches
made before meshes existed, only `faces.json`; such caches load as before, with no landmarks, until
`add-mesh` (detector.training.add_mesh) runs the mesh on their crops in place.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from detector.faces.mesh import MIN_PRESENCE
from detector.faces.mesh_topology import POINTS
from detector.types import MeshLandmarks

MESH_FILE = "mesh.npz"


def write_item_meshes(folder: Path, files: list[str], meshes: list[MeshLandmarks]) -> None:
    """Store the meshes of one item's crops (`files`: names inside `folder`, in crop pixels)."""
    buffer = io.BytesIO()
    points = np.stack([m.points for m in meshes]) if meshes else np.zeros((0, POINTS, 2))
    presence = np.array([m.presence for m in meshes])
    np.savez(
        buffer, files=np.array(files, dtype=str), points=points.astype(np.float16), presence=presence.astype(np.float16)
    )
    tmp = folder / (MESH_FILE + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(folder / MESH_FILE)  # a reader never sees half a file


def read_meshes(cache: Path) -> dict[str, MeshLandmarks]:
    """Every stored mesh of a cache, keyed by the crop's `CachedFace.file`; {} for a cache without meshes."""
    out: dict[str, MeshLandmarks] = {}
    for path in sorted(cache.glob(f"items/*/{MESH_FILE}")):
        prefix = path.parent.relative_to(cache).as_posix()
        with np.load(path) as data:
            points = data["points"].astype(np.float32)
            for name, p, presence in zip(data["files"], points, data["presence"], strict=True):
                out[f"{prefix}/{name}"] = MeshLandmarks(p, float(presence))
    return out


def usable(mesh: MeshLandmarks | None) -> np.ndarray | None:
    """The points of a mesh the model was confident about, else None (masks fall back to 5 points)."""
    return mesh.points if mesh is not None and mesh.presence >= MIN_PRESENCE else None
