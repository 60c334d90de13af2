"""Calibration: Platt fits recover known parameters, stay monotone, round-trip through the checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.calibration import (
    Calibration,
    CalibrationError,
    apply_isotonic,
    balanced_weights,
    fit_isotonic,
    fit_platt,
    read_calibration,
    reliability,
)
from detector.config import Config, ConfigError, EventsConfig, ScoringConfig
from detector.evidence import AlertRule
from detector.model.network import DeepfakeNet
from detector.model.registry import ModelLoadError, load_model, save_checkpoint, with_alerting
from detector.pipeline import model_info


def test_platt_recovers_a_known_logistic_relation() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 40_000)
    raw = 1 / (1 + np.exp(-x))
    labels = (rng.random(x.size) < 1 / (1 + np.exp(-(0.5 * x - 1.0)))).astype(np.int64)
    a, b = fit_platt(raw, labels, np.ones(x.size))
    assert a == pytest.approx(0.5, abs=0.03) and b == pytest.approx(-1.0, abs=0.05)


@pytest.mark.parametrize("a", [0.05, 0.5, 1.0, 3.0])
def test_calibration_is_monotone(a: float) -> None:
    grid = np.linspace(0, 1, 2001)
    calibration = Calibration(a, -0.7, "platt")
    values = calibration.apply_array(grid)
    assert np.all(np.diff(values) >= 0) and np.all(np.diff(values[1:-1]) > 0)
    assert [calibration.apply(float(g)) for g in grid[::100]] == pytest.approx(list(values[::100]))


def test_a_model_whose_scores_fall_with_fakeness_cannot_be_calibrated() -> None:
    raw = np.array([0.9, 0.8, 0.2, 0.1])
    with pytest.raises(CalibrationError, match="do not rise with fakeness"):
        fit_platt(raw, np.array([0, 0, 1, 1]), np.ones(4))
    with pytest.raises(CalibrationError, match="positive"):
        Calibration(-1.0, 0.0, "platt")


def test_weights_give_each_class_half_and_each_clip_an_equal_share() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    clips = np.array([1, 1, 2, 3, 4, 4, 4])
    weights = balanced_weights(labels, clips)
    assert weights == pytest.approx([1 / 8, 1 / 8, 1 / 4, 1 / 4, 1 / 12, 1 / 12, 1 / 12])


def test_ece_by_hand() -> None:
    probs = np.array([0.05, 0.15, 0.95, 0.85])
    labels = np.array([0, 1, 1, 1])
    bins = reliability(probs, labels, np.ones(4))
    # bins: [0,0.1): p 0.05 vs 0; [0.1,0.2): 0.15 vs 1; [0.8,0.9): 0.85 vs 1; [0.9,1]: 0.95 vs 1
    assert bins.ece == pytest.approx((0.05 + 0.85 + 0.15 + 0.05) / 4)


def test_isotonic_pools_adjacent_violators() -> None:
    knots, values = fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]), np.ones(4))
    assert list(values) == [0.0, 0.5, 1.0] and list(knots) == [0.1, 0.3, 0.4]
    assert list(apply_isotonic(knots, values, np.array([0.05, 0.25, 0.35, 0.9]))) == [0.0, 0.5, 1.0, 1.0]


@pytest.fixture(scope="module")
def net() -> DeepfakeNet:
    torch.manual_seed(0)
    return DeepfakeNet(pretrained_backbone=False).eval()


def test_calibration_and_bound_round_trip_through_the_checkpoint(tmp_path: Path, net: DeepfakeNet) -> None:
    old = tmp_path / "old.pt"
    save_checkpoint(net, old, trained=True, threshold=0.9, metrics={}, recipe={})
    plain = load_model(old)
    assert plain.calibration == Calibration() and plain.calibration.identity and plain.alert == {}
    info = model_info(Config(), plain)
    assert info.rule == AlertRule() and info.threshold == 0.9  # identity: the checkpoint's own threshold

    calibration = Calibration(0.25, -0.5, "platt", ("a.mp4", "b.mp4"), {"ece": 0.02})
    alert = {"bound": 14.5, "clip": 1.5, "drift": 0.3, "chosen": {"budget_per_hour": 1.0}}
    new = tmp_path / "new.pt"
    with_alerting(old, new, calibration, alert)
    loaded = load_model(new)
    assert loaded.calibration == calibration and loaded.calibration.clips == ("a.mp4", "b.mp4")
    assert loaded.calibration.metrics == {"ece": 0.02} and loaded.alert == alert
    info = model_info(Config(), loaded)
    assert info.rule == AlertRule(bound=14.5, clip=1.5, drift=0.3)
    assert info.calibration.apply(0.9) == pytest.approx(1 / (1 + math.exp(-(0.25 * math.log(9) - 0.5))))
    # the verdict keeps the checkpoint's decisions: its threshold mapped through the calibration (0.512)
    assert info.threshold == pytest.approx(info.calibration.apply(0.9)) and info.threshold > 0.5
    low = tmp_path / "low.pt"
    save_checkpoint(net, low, trained=True, threshold=0.3, metrics={}, recipe={})
    with_alerting(low, tmp_path / "low_cal.pt", calibration, alert)
    assert model_info(Config(), load_model(tmp_path / "low_cal.pt")).threshold == 0.5  # never below one half
    for key, value in net.state_dict().items():  # the weights are copied untouched
        expected = value.half().float() if value.is_floating_point() else value
        torch.testing.assert_close(loaded.net.state_dict()[key], expected)


def test_a_calibration_file_in_the_config_overrides_the_model(tmp_path: Path, net: DeepfakeNet) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(net, path, trained=True, threshold=0.9, metrics={}, recipe={})
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"method": "platt", "a": 2.0, "b": 1.0}))
    config = Config(scoring=ScoringConfig(calibration=cal), events=EventsConfig(bound=20.0))
    info = model_info(config, load_model(path))
    assert info.calibration == read_calibration(cal) and info.rule.bound == 20.0
    cal.write_text(json.dumps({"method": "platt", "a": -1, "b": 0}))
    with pytest.raises(ConfigError, match="scoring.calibration: .*positive"):
        model_info(config, load_model(path))
    cal.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read calibration"):
        model_info(config, load_model(path))


def test_a_checkpoint_with_a_broken_calibration_is_refused(tmp_path: Path, net: DeepfakeNet) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(net, path, trained=True, threshold=0.9, metrics={}, recipe={})
    payload = torch.load(path, weights_only=True)
    payload["calibration"] = {"method": "magic"}
    torch.save(payload, path)
    with pytest.raises(ModelLoadError, match="needs method 'platt'"):
        load_model(path)
