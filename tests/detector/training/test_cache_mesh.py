"""Face meshes in the training cache: `prepare` stores one per crop, training loads them back, caches made
before meshes keep loading, and `add-mesh` gives such a cache its meshes in place."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detector.cli import main
from detector.config import RetinaFaceConfig
from detector.faces.mesh import FaceMesh
from detector.faces.mesh_topology import LIPS_OUTER, eye_centres, interocular
from detector.faces.retinaface import RetinaFaceDetector
from detector.training.add_mesh import add_mesh
from detector.training.cache import PrepareConfig, load_crop, prepare, read_index
from detector.training.cache_mesh import MESH_FILE, read_meshes
from detector.training.data import SplitRule, load_faces, load_pools
from detector.training.sources import discover
from tests.helpers.media import MissingMedia, package_file


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Two people's photos from installed packages, one folder per person."""
    try:
        files = {"astronaut": package_file("skimage", "data/astronaut.png")}
        files["hopper"] = package_file("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")
    except MissingMedia as exc:
        pytest.skip(str(exc))
    for person, path in files.items():
        (tmp_path / "src" / person).mkdir(parents=True)
        shutil.copy(path, tmp_path / "src" / person / path.name)
    return tmp_path / "src"


def _prepare(photos: Path, out: Path, mesh: FaceMesh | None) -> list:
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    return prepare(discover(photos), detector, out, PrepareConfig(crop_size=192, crop_zoom=0.9), mesh)


def test_prepare_stores_each_crop_s_mesh_and_training_loads_it(photos: Path, tmp_path: Path, mesh: FaceMesh) -> None:
    rows = _prepare(photos, tmp_path / "cache", mesh)
    assert len(rows) == 2
    assert all((tmp_path / "cache" / r.file).parent.joinpath(MESH_FILE).is_file() for r in rows)
    stored = read_meshes(tmp_path / "cache")
    assert set(stored) == {r.file for r in rows}
    for row in rows:
        points = stored[row.file].points
        assert points.shape == (468, 2) and stored[row.file].presence > 0.99
        # In crop pixels: on the aligned face, eyes where the crop's keypoints are, mouth below them.
        assert np.all((points > 0) & (points < 192))
        assert np.abs(eye_centres(points) - row.keypoint_array()[:2]).max() < 0.25 * interocular(points)
        assert points[list(LIPS_OUTER), 1].mean() > row.keypoint_array()[:2, 1].max()
    # The round trip keeps float16's precision: a tenth of a pixel at this size.
    again = mesh.run(load_crop(tmp_path / "cache", rows[0]), rows[0].keypoint_array()).points
    assert np.abs(again - stored[rows[0].file].points).mean() < 0.05 * interocular(again)
    pools = load_pools([tmp_path / "cache"], SplitRule(val_fraction=0.0))
    assert all(f.mesh is not None and f.mesh.dtype == np.float32 for f in pools["train"].faces)


def test_a_cache_without_meshes_loads_and_add_mesh_fills_it_in_place(
    photos: Path, tmp_path: Path, mesh: FaceMesh
) -> None:
    cache = tmp_path / "old"
    rows = _prepare(photos, cache, None)  # as every cache prepared before meshes were stored
    assert not list(cache.glob(f"items/*/{MESH_FILE}")) and read_meshes(cache) == {}
    assert [f.mesh for f in load_faces([cache])] == [None, None]

    report = add_mesh(cache, mesh)

    assert (report.items, report.crops, report.low_presence, report.already) == (2, 2, 0, 0)
    assert "2 crops of 2 items meshed, 0 (0.0 %) with presence below 0.5" in report.line(cache)
    faces = load_faces([cache])
    assert all(f.mesh is not None for f in faces) and read_index(cache) == rows
    # Run on the crop, the mesh agrees with the one `prepare` takes from the whole photo.
    _prepare(photos, tmp_path / "fresh", mesh)
    fresh = read_meshes(tmp_path / "fresh")
    for row in rows:
        from_crop, from_photo = read_meshes(cache)[row.file].points, fresh[row.file].points
        assert np.abs(from_crop - from_photo).mean() < 0.05 * interocular(from_photo)
    # A second run has nothing left to do.
    assert add_mesh(cache, mesh).already == 2


def test_add_mesh_leaves_unfinished_items_for_a_later_run(photos: Path, tmp_path: Path, mesh: FaceMesh) -> None:
    cache = tmp_path / "cache"
    rows = _prepare(photos, cache, None)
    unfinished = (cache / rows[0].file).parent / "faces.json"
    unfinished.rename(unfinished.with_suffix(".later"))  # as `prepare` leaves an item it is still writing
    assert add_mesh(cache, mesh).items == 1
    unfinished.with_suffix(".later").rename(unfinished)
    assert add_mesh(cache, mesh).items == 1 and len(read_meshes(cache)) == 2


def test_add_mesh_command(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    _prepare(photos, cache, None)
    assert main(["add-mesh", str(cache)]) == 0
    assert "2 crops of 2 items meshed" in capsys.readouterr().out
    assert main(["add-mesh", str(tmp_path / "nowhere")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("deepfake-monitor: error: ") and "not a prepared cache" in line
    assert main(["add-mesh", str(cache), "--mesh-model", str(tmp_path / "gone.tflite")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "face mesh model not found" in line
