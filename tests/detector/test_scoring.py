"""Rolling scores and verdicts."""

from __future__ import annotations

import pytest

from detector.config import ScoringConfig
from detector.scoring import RollingScore, verdict
from detector.types import Verdict


def test_ema_weighs_the_newest_probability_by_alpha() -> None:
    rolling = RollingScore(ScoringConfig(mode="ema", ema_alpha=0.25))

    values = [rolling.update(p) for p in (0.8, 0.0, 0.4)]

    assert values == pytest.approx([0.8, 0.6, 0.55])


def test_mean_covers_only_the_window() -> None:
    rolling = RollingScore(ScoringConfig(mode="mean", window=2))

    values = [rolling.update(p) for p in (1.0, 0.0, 0.5)]

    assert values == pytest.approx([1.0, 0.5, 0.25])


def test_no_probability_yet_means_no_rolling_score() -> None:
    assert RollingScore(ScoringConfig()).value is None


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.9, Verdict.FAKE),
        (0.6, Verdict.FAKE),
        (0.55, Verdict.UNCERTAIN),
        (0.5, Verdict.UNCERTAIN),
        (0.49, Verdict.REAL),
    ],
)
def test_verdict_around_the_threshold(score: float, expected: Verdict) -> None:
    config = ScoringConfig(uncertain_margin=0.1, min_frames=3)

    assert verdict(score, frames=10, threshold=0.6, config=config, trained=True) is expected


def test_no_verdict_without_a_trained_model_enough_frames_or_a_score() -> None:
    config = ScoringConfig(min_frames=3)

    assert verdict(0.99, frames=10, threshold=0.5, config=config, trained=False) is Verdict.UNCERTAIN
    assert verdict(0.99, frames=2, threshold=0.5, config=config, trained=True) is Verdict.UNCERTAIN
    assert verdict(None, frames=10, threshold=0.5, config=config, trained=True) is Verdict.UNCERTAIN
