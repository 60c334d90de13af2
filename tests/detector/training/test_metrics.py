"""Metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from detector.training.metrics import auc, average_precision, eer, rates_at, roc_curve, threshold_for_fpr


def test_perfect_and_inverted_scores() -> None:
    labels = np.array([0, 0, 1, 1])
    assert auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert eer(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert average_precision(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_one_swapped_pair() -> None:
    # Pairs (real, fake): 3 of 4 ranked right → AUC 0.75. Ranking f, f?, ...: 0.8 fake, 0.4 real,
    # 0.35 fake, 0.1 real → precision at the two fakes 1/1 and 2/3 → AP (1 + 2/3) / 2.
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    assert auc(labels, scores) == pytest.approx(0.75)
    assert average_precision(labels, scores) == pytest.approx(5 / 6)
    assert eer(labels, scores) == pytest.approx(0.5)


def test_ties_count_one_half() -> None:
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert auc(np.array([0, 0, 1]), np.array([0.2, 0.5, 0.5])) == pytest.approx(0.75)


def test_eer_interpolates_between_roc_points() -> None:
    # 4 reals, 4 fakes; one real above two fakes: fpr/fnr cross at 0.25.
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.75, 0.5, 0.6, 0.8, 0.9])
    assert auc(labels, scores) == pytest.approx(14 / 16)
    assert eer(labels, scores) == pytest.approx(0.25)


def test_roc_starts_at_origin_and_ends_at_one() -> None:
    roc = roc_curve(np.array([0, 1, 0, 1]), np.array([0.3, 0.6, 0.6, 0.9]))
    assert roc.fpr[0] == roc.tpr[0] == 0.0
    assert roc.fpr[-1] == roc.tpr[-1] == 1.0
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)


def test_rates_at_threshold() -> None:
    rates = rates_at(np.array([0, 0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9]), 0.5)
    assert rates.fpr == pytest.approx(0.25)
    assert rates.tpr == pytest.approx(1.0)
    assert rates.accuracy == pytest.approx(5 / 6)


def test_threshold_for_fpr_keeps_false_positives_at_most_the_target() -> None:
    reals = np.linspace(0, 1, 101)
    threshold = threshold_for_fpr(reals, 0.05)
    assert np.mean(reals >= threshold) <= 0.05
    assert np.mean(reals >= np.nextafter(threshold, -np.inf) - 0.01) > 0.05  # and is the lowest such
    assert np.mean(np.array([0.3, 0.3, 0.3]) >= threshold_for_fpr(np.array([0.3, 0.3, 0.3]), 0.05)) == 0.0


def test_single_class_is_rejected() -> None:
    with pytest.raises(ValueError):
        auc(np.array([0, 0]), np.array([0.1, 0.2]))
