"""The eval command end to end on a tiny cache: report, protocol and ROC plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from detector.cli import main
from detector.model.network import DeepfakeNet
from detector.model.registry import load_model, save_checkpoint
from detector.model.views import ViewSpec
from detector.training.cache import CacheError, PrepareConfig
from detector.training.evaluate import EvalConfig, evaluate
from tests.detector.training.conftest import package_photo_cache


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package_photo_cache(tmp_path_factory.mktemp("eval"), PrepareConfig())


def test_eval_with_synthesised_fakes_writes_report_and_roc(tiny_cache: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "w.pt"
    recipe = {"rule": {"holdout": ["person1"], "item_split": [], "val_fraction": 0.0}}
    save_checkpoint(
        DeepfakeNet(pretrained_backbone=False), weights, trained=True, threshold=0.5, metrics={}, recipe=recipe
    )
    report = evaluate(
        EvalConfig((tiny_cache,), weights, tmp_path / "out", subset="val", synth=True, still_frames=4, threads=1)
    )
    assert report["video"]["count"] == 2  # the six-person photo as one video, plus its fake
    assert report["frame"]["count"] == 8  # 4 frames each; 6 faces per frame reduced by max
    assert report["protocol"]["face_aggregation"] == "max over faces per frame"
    assert 0.0 <= report["video"]["auc"] <= 1.0
    assert json.loads((tmp_path / "out/report.json").read_text())["threshold"] == 0.5
    assert (tmp_path / "out/roc.png").stat().st_size > 1000


def test_eval_on_real_faces_only_reports_false_positive_rate(tiny_cache: Path, tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    save_checkpoint(DeepfakeNet(pretrained_backbone=False), weights, trained=True, threshold=0.0, metrics={}, recipe={})
    report = evaluate(EvalConfig((tiny_cache,), weights, tmp_path / "out", threads=1))
    assert report["video"] == {**report["video"], "count": 2, "fakes": 0, "fpr": 1.0}


def test_calibrate_writes_a_checkpoint_with_the_threshold_of_the_real_frames(tiny_cache: Path, tmp_path: Path) -> None:
    weights, calibrated = tmp_path / "w.pt", tmp_path / "calibrated.pt"
    save_checkpoint(DeepfakeNet(pretrained_backbone=False), weights, trained=True, threshold=0.0, metrics={}, recipe={})
    report = evaluate(
        EvalConfig((tiny_cache,), weights, tmp_path / "out", threads=1, calibrate=calibrated, max_fpr=0.0)
    )
    assert report["frame"]["fpr"] == 0.0
    assert load_model(calibrated).threshold == report["threshold"] > 0.0


def test_eval_refuses_crops_of_another_size_than_the_model_takes(tiny_cache: Path, tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    net = DeepfakeNet(pretrained_backbone=False)
    save_checkpoint(net, weights, trained=True, threshold=0.5, metrics={}, recipe={}, views=ViewSpec(192, 192))
    assert load_model(weights).align_size == 192
    with pytest.raises(CacheError, match="takes 192 px aligned crops but the caches hold 128 px crops"):
        evaluate(EvalConfig((tiny_cache,), weights, tmp_path / "out", threads=1))
    assert not (tmp_path / "out").exists()


def test_eval_command_reports_a_crop_size_mismatch_in_one_line(
    tiny_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.pt"
    net = DeepfakeNet(pretrained_backbone=False)
    save_checkpoint(net, weights, trained=True, threshold=0.5, metrics={}, recipe={}, views=ViewSpec(192, 192))

    code = main(["eval", str(tiny_cache), "--weights", str(weights), "--out", str(tmp_path / "out")])

    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("deepfake-monitor: error: ") and "--crop-size 192" in line
