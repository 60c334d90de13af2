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


def test_every_train_option_reaches_the_run_s_config() -> None:
    """A flag the parser accepts but the config never receives trains silently without it (this once
    happened to --retime-share and --no-mesh-masks)."""
    from detector.cli import build_parser
    from detector.training.cli import train_config

    args = build_parser().parse_args(
        ["train", "--data", "c1", "c2", "--out", "runs/x", "--holdout", "a", "--item-split", "b",
         "--val-fraction", "0.2", "--epochs", "2", "--lstm-epochs", "0", "--still-clips", "7", "--max-minutes", "9",
         "--stage2-minutes", "1", "--seed", "3", "--threads", "2", "--resume", "--init-from", "v1.pt", "--lr", "1e-4",
         "--dev", "d1", "--labelled-share", "0.4", "--warp-share", "0.2", "--retime-share", "0.35",
         "--no-mesh-masks", "--no-match-quality", "--rerender-share", "0.25", "--rerender-weights", "w",
         "--average-epochs", "2", "--input-size", "160", "--mouth-size", "96", "--backbone-lr", "0.1"]
    )  # fmt: skip
    config = train_config(args)
    assert config.caches == (Path("c1"), Path("c2")) and config.out == Path("runs/x") and config.dev == (Path("d1"),)
    assert config.rule == SplitRule(("a",), ("b",), 0.2)
    assert (config.epochs, config.lstm_epochs, config.still_clips, config.max_minutes) == (2, 0, 7, 9)
    assert (config.stage2_minutes, config.seed, config.threads, config.resume) == (1, 3, 2, True)
    assert (config.init_from, config.lr, config.average) == (Path("v1.pt"), 1e-4, 2)
    assert (config.input_size, config.mouth_size, config.backbone_lr) == (160, 96, 0.1)
    mix = config.mix
    assert (mix.labelled, mix.warp, mix.retime, mix.rerender) == (0.4, 0.2, 0.35, 0.25)
    assert not mix.mesh_masks and not mix.match_quality and mix.rerender_weights == Path("w")
