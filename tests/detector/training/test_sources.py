"""Data set layouts map to the right labels, groups and splits; prepare caches aligned faces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import RetinaFaceConfig
from detector.faces.retinaface import RetinaFaceDetector
from detector.training.cache import (
    CacheError,
    PrepareConfig,
    common_crop_size,
    common_crop_zoom,
    crop_size,
    crop_zoom,
    load_crop,
    prepare,
    read_index,
    selected_frames,
)
from detector.training.data import SplitRule
from detector.training.sources import discover
from tests.helpers.media import MissingMedia, package_file, photo

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "real_faces"


def _touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def test_faceforensics_layout(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "original_sequences/youtube/c23/videos/000.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
    )
    items = {i.path.name: i for i in discover(tmp_path)}
    assert items["000.mp4"].label == 0 and items["000_003.mp4"].label == 1
    assert items["000.mp4"].group == items["000_003.mp4"].group


def test_celeb_df_layout_and_test_list(tmp_path: Path) -> None:
    _touch(tmp_path, "Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4", "YouTube-real/00001.mp4")
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    items = {i.path.name: i for i in discover(tmp_path)}
    assert [items[n].label for n in ("id0_0000.mp4", "id0_id1_0000.mp4", "00001.mp4")] == [0, 1, 0]
    assert items["00001.mp4"].split == "test" and items["id0_0000.mp4"].split == "train"
    assert items["id0_0000.mp4"].group == items["id0_id1_0000.mp4"].group


def test_dfdc_metadata(tmp_path: Path) -> None:
    _touch(tmp_path, "part0/a.mp4", "part0/b.mp4")
    (tmp_path / "part0/metadata.json").write_text(
        json.dumps(
            {
                "a.mp4": {"label": "REAL", "split": "train"},
                "b.mp4": {"label": "FAKE", "original": "a.mp4"},
            }
        )
    )
    items = {i.path.name: i for i in discover(tmp_path)}
    assert items["a.mp4"].label == 0 and items["b.mp4"].label == 1
    assert items["a.mp4"].group == items["b.mp4"].group


def test_split_rule_holds_out_groups_and_items() -> None:
    from detector.training.cache import CachedFace

    def row(item: str, group: str, split: str = "") -> CachedFace:
        return CachedFace(item, "", 0, group, "d", split, "image", "", 0, 0, "", 0.0)

    rule = SplitRule(holdout=("videos/lia",), item_split=("images/utk",), val_fraction=0.5)
    assert rule.role(row("x", "videos/lia/vox")) == "val"
    assert rule.role(row("x", "a", "test")) == "test"
    roles = {rule.role(row(f"i{k}", "images/utk/part1")) for k in range(40)}
    assert roles == {"train", "val"}  # items of one item-split group land on both sides


def test_video_sampling_takes_runs_of_consecutive_analysis_frames() -> None:
    frames = sorted(selected_frames(300, PrepareConfig(max_frames=32, run_length=8, stride=2)))
    assert len(frames) == 32
    assert frames[:8] == list(range(0, 16, 2))


def _astronaut_folder(tmp_path: Path) -> Path:
    """tmp_path/src/person/astronaut.png (scikit-image's photo): one person, one face."""
    try:
        source = package_file("skimage", "data/astronaut.png")
        photo("astronaut")
    except MissingMedia as exc:
        pytest.skip(str(exc))
    (tmp_path / "src/person").mkdir(parents=True)
    shutil.copy(source, tmp_path / "src/person/astronaut.png")
    return tmp_path / "src"


def test_prepare_caches_aligned_faces(tmp_path: Path) -> None:
    _astronaut_folder(tmp_path)
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    rows = prepare(discover(tmp_path / "src"), detector, tmp_path / "cache", PrepareConfig())
    assert len(rows) == 1 and rows[0].label == 0 and rows[0].group == "person"
    assert read_index(tmp_path / "cache") == rows
    crop = load_crop(tmp_path / "cache", rows[0])
    assert crop.shape == (128, 128, 3)
    assert np.all(rows[0].keypoint_array() > 20) and np.all(rows[0].keypoint_array() < 108)


def test_prepare_at_another_crop_size_keeps_the_face_in_the_same_place(tmp_path: Path) -> None:
    _astronaut_folder(tmp_path)
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    small = prepare(discover(tmp_path / "src"), detector, tmp_path / "c128", PrepareConfig())
    large = prepare(discover(tmp_path / "src"), detector, tmp_path / "c192", PrepareConfig(crop_size=192))
    assert crop_size(tmp_path / "c128") == 128 and crop_size(tmp_path / "c192") == 192
    assert load_crop(tmp_path / "c192", large[0]).shape == (192, 192, 3)
    # The same alignment, scaled: keypoints in crop pixels grow by 192 / 128.
    assert np.allclose(large[0].keypoint_array(), small[0].keypoint_array() * 1.5, atol=0.05)
    with pytest.raises(CacheError, match="holds 192 px crops, not 128"):
        prepare(discover(tmp_path / "src"), detector, tmp_path / "c192", PrepareConfig())
    (tmp_path / "c192/index.csv").unlink()  # as a run stopped before its last step leaves it
    with pytest.raises(CacheError, match="holds 192 px crops, not 128"):
        prepare(discover(tmp_path / "src"), detector, tmp_path / "c192", PrepareConfig())
    with pytest.raises(CacheError, match="different sizes"):
        common_crop_size([tmp_path / "c128", tmp_path / "c192"])
    assert common_crop_size([tmp_path / "c192"]) == 192


def test_prepare_at_a_tighter_zoom_is_recorded_and_kept_apart(tmp_path: Path) -> None:
    _astronaut_folder(tmp_path)
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    wide = prepare(discover(tmp_path / "src"), detector, tmp_path / "z75", PrepareConfig())
    tight = prepare(discover(tmp_path / "src"), detector, tmp_path / "z90", PrepareConfig(crop_zoom=0.9))
    assert crop_zoom(tmp_path / "z75") == 0.75 and crop_zoom(tmp_path / "z90") == 0.9
    # Zoomed about the crop centre: keypoints move away from it by 0.9 / 0.75.
    centre = np.array([64.0, 64.0])
    spread = (tight[0].keypoint_array() - centre) / (wide[0].keypoint_array() - centre)
    assert np.allclose(spread, 0.9 / 0.75, atol=0.01)
    with pytest.raises(CacheError, match="zoom 0.9, not 0.75"):
        prepare(discover(tmp_path / "src"), detector, tmp_path / "z90", PrepareConfig())
    with pytest.raises(CacheError, match="different zooms"):
        common_crop_zoom([tmp_path / "z75", tmp_path / "z90"])


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present on this machine")
def test_prepare_finds_faces_in_tight_utkface_crops(tmp_path: Path) -> None:
    files = sorted((SHARED_DATA / "images/utkface").rglob("*.jpg"))[:3]
    (tmp_path / "src").mkdir()
    for f in files:
        shutil.copy(f, tmp_path / "src" / f.name)
    assert all(cv2.imread(str(f)).shape[:2] == (200, 200) for f in files)
    detector = RetinaFaceDetector(RetinaFaceConfig.model_validate({}))
    rows = prepare(discover(tmp_path / "src"), detector, tmp_path / "cache", PrepareConfig())
    assert len({r.item for r in rows}) == 3
