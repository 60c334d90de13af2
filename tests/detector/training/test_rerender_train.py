"""`rerender-train` on a tiny hand-made cache: only real training-split faces are used, a few steps write
weights that load and a recipe that says what was done; a cache without such faces is a one-line error."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.cli import main
from detector.training.autoencoder import FAMILY
from detector.training.cache import CachedFace, read_index, write_index
from detector.training.rerender import load_rerenderers
from detector.training.rerender_train import cap_groups, training_rows
from tests.detector.training.conftest import AlignedFaces


def _write_cache(root: Path, aligned_faces: AlignedFaces, rows: list[tuple[int, str, str]]) -> Path:
    """A cache of (label, split, kind) rows, one aligned face each, written as `prepare` writes it."""
    for k, (label, split, kind) in enumerate(rows):
        item = f"item{k}"
        folder = root / "items" / item
        folder.mkdir(parents=True)
        crop = aligned_faces.crops[k % len(aligned_faces.crops)]
        cv2.imwrite(str(folder / "000000_0.png"), crop)
        points = " ".join(f"{v:.2f}" for v in aligned_faces.keypoints[k % len(aligned_faces.crops)].reshape(-1))
        file = f"items/{item}/000000_0.png"
        row = CachedFace(item, file, label, f"g{k}", "test", split, kind, "", 0, 0, points, 90.0)
        (folder / "faces.json").write_text(json.dumps([asdict(row)]))
    write_index(root)
    return root


def test_training_rows_keep_real_training_faces_and_thin_out_videos() -> None:
    def row(item: str, label: int, split: str, kind: str, frame: int) -> CachedFace:
        return CachedFace(item, "", label, "g", "d", split, kind, "", frame, 0, "", 90.0)

    rows = [row("video", 0, "train", "video", f) for f in range(0, 40, 2)]
    rows += [row("photo", 0, "", "image", 0), row("fake", 1, "train", "video", 0), row("dev", 0, "dev", "video", 0)]
    kept = training_rows(rows, frames_per_video=4)
    assert {r.item for r in kept} == {"video", "photo"}
    assert [r.frame for r in kept if r.item == "video"] == [0, 12, 26, 38]


def test_no_group_gives_more_than_its_cap() -> None:
    rows = [CachedFace(f"big{k}", "", 0, "big", "d", "", "image", "", 0, 0, "", 90.0) for k in range(50)]
    rows += [CachedFace("small", "", 0, "small", "d", "", "image", "", 0, 0, "", 90.0)]
    kept = cap_groups(rows, 10, np.random.default_rng(0))
    assert sum(r.group == "big" for r in kept) == 10 and kept[-1].item == "small"
    assert [rows.index(r) for r in kept] == sorted(rows.index(r) for r in kept)  # order kept


def test_rerender_train_runs_a_few_steps_and_writes_loadable_weights(
    tmp_path: Path, aligned_faces: AlignedFaces, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(0, "", "image")] * 5 + [(1, "train", "image"), (0, "dev", "image")]
    cache = _write_cache(tmp_path / "cache", aligned_faces, rows)
    assert len(read_index(cache)) == 7
    out = tmp_path / "weights"
    code = main(["rerender-train", "--data", str(cache), "--out", str(out), "--steps", "3", "--patch", "32"])
    assert code == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["steps"] == 3
    assert recipe["data"][0] | {"cache": ""} == {
        "cache": "",
        "rows": 7,
        "skipped_fakes": 1,
        "skipped_not_train_split": 1,
        "used": 5,
        "items": 5,
    }
    assert recipe["crops"]["train"] + recipe["crops"]["judged"] == 5  # one item held out for the PSNR
    assert "--steps 3" in recipe["command"]
    models = load_rerenderers(out)
    assert models.names == sorted(s.name for s in FAMILY)
    for name, entry in recipe["models"].items():
        assert (out / entry["file"]).stat().st_size == entry["bytes"] <= 1_000_000
        assert entry["psnr"] > 0
        assert models.nets[name].spec.name == name
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == set(recipe["models"])


def test_rerender_train_without_real_training_faces_is_a_one_line_error(
    tmp_path: Path, aligned_faces: AlignedFaces, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = _write_cache(tmp_path / "cache", aligned_faces, [(1, "train", "image"), (0, "dev", "video")])
    code = main(["rerender-train", "--data", str(cache), "--out", str(tmp_path / "w"), "--steps", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "no real faces of the training split" in err and "\n" not in err
    assert not (tmp_path / "w").exists()


def test_train_with_missing_rerender_weights_fails_before_loading_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--data", str(tmp_path / "no_cache"), "--out", str(tmp_path / "run")]
    code = main([*argv, "--rerender-share", "0.3", "--rerender-weights", str(tmp_path / "none")])
    assert code == 2
    assert "rerender-train" in capsys.readouterr().err
    assert main([*argv, "--rerender-share", "1.5"]) == 2


def test_synth_writes_rerendered_examples_and_a_grid_with_differences(
    tmp_path: Path, aligned_faces: AlignedFaces
) -> None:
    cache = _write_cache(tmp_path / "cache", aligned_faces, [(0, "", "image")] * 2)
    grid = tmp_path / "grid.png"
    argv = ["synth", str(cache), "--out", str(tmp_path / "ex"), "-n", "2", "--kind", "rerender"]
    assert main([*argv, "--grid", str(grid), "--diff", "--seed", "3"]) == 0
    real = cv2.imread(str(tmp_path / "ex" / "000_real.png"))
    fake = cv2.imread(str(tmp_path / "ex" / "000_fake.png"))
    assert real.shape == fake.shape and not np.array_equal(real, fake)
    side = real.shape[0]
    # Two cells side by side, each real | fake | mask | difference, an 8 px gap between them.
    assert cv2.imread(str(grid)).shape == (side, 2 * 4 * side + 8, 3)
