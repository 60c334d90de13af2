"""Benchmark figures from hand-made clip outcomes: every value below is worked out by hand."""

from __future__ import annotations

import pytest

from stream_server.benchmark.metrics import poisson_upper, quantile_or_never, summarize
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus


def clip(
    name: str,
    label: int,
    score: float | None,
    *,
    family: str = "real",
    generator: str = "",
    alerts: int = 0,
    first: float | None = None,
    duration: float = 10.0,
    status: ClipStatus = ClipStatus.SCORED,
    verdict: str | None = None,
) -> ClipOutcome:
    if verdict is None and score is not None:
        verdict = "fake" if score >= 0.5 else ("uncertain" if score >= 0.4 else "real")
    return ClipOutcome(
        name,
        label,
        family,
        generator,
        status,
        score,
        verdict,
        duration,
        30,
        30,
        1,
        alerts,
        first,
        0,
        "" if score is not None else "no face found in any analyzed frame",
    )


@pytest.fixture
def outcomes() -> list[ClipOutcome]:
    return [
        clip("r1", 0, 0.10, duration=1800.0),
        clip("r2", 0, 0.30, duration=1800.0),
        clip("r3", 0, 0.45, alerts=2, duration=1800.0),  # uncertain, but its rolling score alerted twice
        clip("r4", 0, 0.60, alerts=1, duration=1800.0),  # a false alarm
        clip("r5", 0, None, status=ClipStatus.NO_FACE, duration=600.0),
        clip("f1", 1, 0.90, family="talking-head", generator="A", alerts=1, first=1.0),
        clip("f2", 1, 0.50, family="talking-head", generator="B", alerts=1, first=3.0),
        clip("f3", 1, 0.20, family="lip-sync", generator="C"),
        clip("f4", 1, 0.55, family="lip-sync", generator="C", alerts=1, first=2.0),
        clip("f5", 1, None, family="lip-sync", generator="C", status=ClipStatus.ERROR),
    ]


def test_auc_overall_and_per_family_against_the_same_reals(outcomes: list[ClipOutcome]) -> None:
    report = summarize(outcomes, threshold=0.5)
    # Scored: reals 0.10 0.30 0.45 0.60; fakes 0.90 0.50 0.20 0.55. Fake-above-real pairs:
    # 0.90 → 4, 0.50 → 3, 0.20 → 1, 0.55 → 3: 11 of 16.
    assert report["overall"]["auc"] == pytest.approx(11 / 16)
    assert report["overall"]["reals"] == 4 and report["overall"]["fakes"] == 4
    assert report["per_family"]["talking-head"]["auc"] == pytest.approx(7 / 8)
    assert report["per_family"]["lip-sync"]["auc"] == pytest.approx(4 / 8)
    assert report["per_generator"]["A"]["auc"] == pytest.approx(1.0)
    assert report["per_generator"]["C"]["fakes"] == 2  # the unreadable C clip is not scored
    # The best TPR with no real above: only 0.90 is above 0.60 → 1/4; at 5 % FPR the same (4 reals).
    assert report["overall"]["tpr_at_1pct_fpr"] == pytest.approx(0.25)
    assert report["overall"]["tpr_at_5pct_fpr"] == pytest.approx(0.25)


def test_rates_and_verdicts_at_the_threshold(outcomes: list[ClipOutcome]) -> None:
    at = summarize(outcomes, threshold=0.5)["at_threshold"]
    assert at["video_fpr"] == pytest.approx(1 / 4)
    assert at["video_tpr"] == pytest.approx(3 / 4)
    assert at["verdicts_real"] == {"real": 2, "uncertain": 1, "fake": 1, "no_score": 1}
    assert at["verdicts_fake"] == {"real": 1, "uncertain": 0, "fake": 3, "no_score": 1}


def test_time_to_first_alert_and_false_alerts_per_hour(outcomes: list[ClipOutcome]) -> None:
    report = summarize(outcomes, threshold=0.5)
    tta = report["time_to_first_alert"]
    # Scored fakes alert after 1, 3, 2 s and never: sorted 1, 2, 3, never → median 2 s, p90 never.
    assert (tta["clips"], tta["alerted"], tta["median_s"], tta["p90_s"]) == (4, 3, 2.0, None)
    # Among the 3 that alert: median 2 s, p90 3 s (the 90 % point of 1, 2, 3 is the third).
    assert (tta["share_alerted"], tta["median_alerted_s"], tta["p90_alerted_s"]) == (0.75, 2.0, 3.0)
    fa = report["false_alerts"]
    # 3 alerts over 4 × 30 min + 10 min (the faceless clip was watched too) = 130 min.
    assert fa["alerts"] == 3
    assert fa["per_hour"] == pytest.approx(3 / (130 / 60))
    # The exact one-sided 95 % Poisson bound for 3 events is 7.754 (tables: Garwood 1936).
    assert fa["per_hour_upper95"] == pytest.approx(7.7537 / (130 / 60), abs=1e-3)
    assert fa["real_clips_with_alert"] == 2 and fa["real_clips"] == 5


def test_no_false_alert_gives_the_rule_of_three() -> None:
    fa = summarize([clip("r1", 0, 0.2, duration=600.0), clip("r2", 0, 0.3, duration=1200.0)], 0.5)["false_alerts"]
    # 30 minutes without an alert: the 95 % upper bound is -ln(0.05) / 0.5 h = 5.99 per hour.
    assert fa["alerts"] == 0 and fa["per_hour"] == 0.0
    assert fa["per_hour_upper95"] == pytest.approx(2.9957 / 0.5, abs=1e-3)
    assert "rule of three" in fa["note"] and "under 1 per hour" in fa["note"]


@pytest.mark.parametrize(("count", "upper"), [(0, 2.9957), (1, 4.7439), (2, 6.2958), (3, 7.7537), (10, 16.9622)])
def test_poisson_upper_bound_matches_the_tables(count: int, upper: float) -> None:
    assert poisson_upper(count) == pytest.approx(upper, abs=1e-3)


def test_clips_without_a_score_are_listed_with_their_reason(outcomes: list[ClipOutcome]) -> None:
    report = summarize(outcomes, threshold=0.5)
    assert report["status"] == {"scored": 8, "no_face": 1, "abstained": 0, "error": 1}
    assert [(u["clip"], u["status"]) for u in report["unscored"]] == [("r5", "no_face"), ("f5", "error")]


def test_one_class_only_gives_no_auc() -> None:
    report = summarize([clip("r1", 0, 0.2), clip("r2", 0, 0.3)], threshold=0.5)
    assert report["overall"]["auc"] is None
    assert report["per_family"] == {}


def test_quantiles_count_clips_that_never_alerted_as_latest() -> None:
    assert quantile_or_never([4.0, None, 1.0], 0.5) == 4.0
    assert quantile_or_never([None, None, 1.0], 0.5) is None
    assert quantile_or_never([], 0.5) is None
