"""`deepfake-monitor add-mesh CACHE...`: the face mesh for a cache prepared before meshes were stored.

The mesh runs on each cached crop itself, its region placed from the crop's stored 5 keypoints exactly as
it is placed in a frame (the crop is an aligned face with margin; edges the region reaches past are
replicated). Items are done one at a time and each is written atomically, so an interrupted run simply
continues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from detector.faces.mesh import MIN_PRESENCE, FaceMesh
from detector.training.cache import CachedFace, load_crop
from detector.training.cache_mesh import MESH_FILE, write_item_meshes


@dataclass(frozen=True)
class MeshReport:
    """What `add-mesh` did to one cache."""

    items: int  # items meshed now
    crops: int  # crops meshed now
    low_presence: int  # of those, crops the model doubted (presence below MIN_PRESENCE)
    already: int  # items that had meshes before

    def line(self, cache: Path) -> str:
        share = 100 * self.low_presence / self.crops if self.crops else 0.0
        return (
            f"{cache}: {self.crops} crops of {self.items} items meshed, {self.low_presence} ({share:.1f} %) "
            f"with presence below {MIN_PRESENCE}; {self.already} items had meshes already"
        )


def add_mesh(cache: Path, mesh: FaceMesh) -> MeshReport:
    """Run the mesh on the crops of every finished item that has none yet, in place. Safe to repeat, and
    to run while `prepare` is still adding items: those without `faces.json` are left for the next run."""
    items = crops = low = already = 0
    folders = sorted(p.parent for p in cache.glob("items/*/faces.json"))
    for folder in tqdm(folders, desc="add-mesh", unit="item", dynamic_ncols=True):
        if (folder / MESH_FILE).is_file():
            already += 1
            continue
        rows = [CachedFace(**r) for r in json.loads((folder / "faces.json").read_text())]
        # The crop is an aligned face: the mesh's region is placed from its stored 5 keypoints, as in a frame.
        meshes = [mesh.run(load_crop(cache, row), row.keypoint_array()) for row in rows]
        write_item_meshes(folder, [Path(r.file).name for r in rows], meshes)
        items, crops = items + 1, crops + len(rows)
        low += sum(1 for m in meshes if m.presence < MIN_PRESENCE)
    return MeshReport(items, crops, low, already)
