"""Checkpoints: written in float16 and read back into the same network; bad files are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from detector.model.network import DeepfakeNet
from detector.model.registry import MODEL_NAME, ModelLoadError, load_model, save_checkpoint
from detector.model.views import ViewSpec


@pytest.fixture(scope="module")
def net() -> DeepfakeNet:
    torch.manual_seed(0)
    return DeepfakeNet(pretrained_backbone=False).eval()


def test_checkpoint_round_trip(tmp_path: Path, net: DeepfakeNet) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(net, path, trained=True, threshold=0.37, metrics={"auc": 0.9}, recipe={"epochs": 1})

    loaded = load_model(path)

    assert (loaded.name, loaded.trained, loaded.threshold, loaded.metrics) == (MODEL_NAME, True, 0.37, {"auc": 0.9})
    for key, value in net.state_dict().items():
        restored = loaded.net.state_dict()[key]
        if value.is_floating_point():
            torch.testing.assert_close(restored, value.half().float())  # float16 on disk, float32 in memory
        else:
            assert torch.equal(restored, value)
    assert not loaded.net.training
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a torch file")
    other = tmp_path / "other.pt"
    torch.save({"weights": [1, 2, 3]}, other)

    with pytest.raises(ModelLoadError, match="cannot read"):
        load_model(junk)
    with pytest.raises(ModelLoadError, match="not a deepfake-monitor checkpoint"):
        load_model(other)


def test_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    path = tmp_path / "other-arch.pt"
    torch.save({"name": "x", "state_dict": {"layer.weight": torch.zeros(2, 2)}}, path)

    with pytest.raises(ModelLoadError, match="does not fit"):
        load_model(path)


def test_checkpoint_keeps_its_alignment_zoom_and_the_analyzer_aligns_with_it(tmp_path: Path, net: DeepfakeNet) -> None:
    from detector.config import Config
    from detector.faces.align import ZOOM, align_face
    from detector.pipeline import Analyzer
    from detector.types import Frame
    from tests.helpers.media import Placement, compose

    path = tmp_path / "tight.pt"
    save_checkpoint(net, path, trained=True, threshold=0.5, metrics={}, recipe={}, views=ViewSpec(zoom=0.9))
    assert load_model(path).crop_zoom == 0.9
    old = tmp_path / "old.pt"
    save_checkpoint(net, old, trained=True, threshold=0.5, metrics={}, recipe={})
    payload = torch.load(old, weights_only=True)
    del payload["crop_zoom"], payload["views"]  # written before zooms and views were recorded
    torch.save(payload, old)
    assert load_model(old).crop_zoom == ZOOM
    analyzer = Analyzer(Config.model_validate({"model": {"weights": str(path)}}))
    image = compose([Placement("hopper", cx=240, cy=160, side=180)])
    (result,) = analyzer.process([Frame("zoom", image, 0, None, 0.0, 0)])
    (face,) = analyzer.detector.detect(image)
    served = result.faces[0].crop.astype(np.float32)

    def off(zoom: float) -> float:
        return float(np.abs(served - align_face(image, face.keypoints, 128, zoom).crop).mean())

    assert off(0.9) < 0.3 * off(ZOOM)  # served crops are the checkpoint's tighter ones
