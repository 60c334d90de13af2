"""A whole `train` run on a tiny cache of package photos: a frame model only (no stage 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.model.registry import load_model
from detector.model.views import ViewSpec
from detector.training.cache import PrepareConfig
from detector.training.data import SplitRule
from detector.training.train import TrainConfig, train
from tests.detector.training.conftest import package_photo_cache


@pytest.fixture(scope="module")
def cache_192(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package_photo_cache(tmp_path_factory.mktemp("train_run"), PrepareConfig(crop_size=192, crop_zoom=0.9))


def test_a_frame_model_run_writes_a_checkpoint_with_its_views_and_embeds_no_clips(
    cache_192: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    config = TrainConfig(
        caches=(cache_192,),
        out=out,
        rule=SplitRule(holdout=("person0",)),  # the astronaut validates, the six faces of t1.jpg train
        epochs=1.0,
        lstm_epochs=0,
        threads=1,
        max_minutes=10,
        stage2_minutes=0,
        input_size=128,
        mouth_size=96,
    )

    metrics = train(config)

    model = load_model(out / "final.pt")
    assert model.views == ViewSpec(align_size=192, face_size=128, mouth_size=96, zoom=0.9)
    assert model.net.has_mouth and model.trained
    assert 0.0 < metrics["threshold"] < 1.0 and metrics["val_frame_auc"] == metrics["val_frame_auc"]  # not NaN
    assert not (out / "bank_train.pt").exists() and not (out / "bank_val.pt").exists()
    assert (out / "summary.json").is_file()
