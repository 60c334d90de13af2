"""The rule and calibration replayed on stored per-frame scores: hand-made frames give hand-worked alerts,
bounds and alert figures."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from detector.calibration import Calibration
from detector.config import ScoringConfig
from detector.evidence import AlertRule
from detector.pipeline import ModelInfo
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus, FrameRow
from stream_server.benchmark.replay import choose_bound, clip_alerts, excursion_peaks, read_scores, replay, sweep
from stream_server.benchmark.report import write_outputs

P = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731  a probability whose log-odds is exactly x

RULE = AlertRule(bound=3.0, clip=2.0, drift=0.5, min_frames=1)
INFO = ModelInfo("m", True, 0.5, 128, 0.1, Calibration(), RULE, True)


def frames(*probs: float | None, track: int = 1, start: float = 0.0) -> tuple[FrameRow, ...]:
    return tuple(FrameRow(track, start + i / 10, p, "" if p is not None else "too_small") for i, p in enumerate(probs))


def outcome(name: str, label: int, rows: tuple[FrameRow, ...], duration: float = 10.0) -> ClipOutcome:
    return ClipOutcome(name, label, "real" if label == 0 else "x", "", ClipStatus.SCORED, 0.5, "uncertain", duration,
                       len(rows), len(rows), 1, start_t=0.0, frames=rows)  # fmt: skip


def test_known_frames_give_exact_alert_times() -> None:
    # +1.0 per frame (log-odds 1.5 - drift 0.5): the bound 3 is reached at the 3rd frame, t = 0.2 s; an
    # abstained frame in between adds nothing, so it moves the alert one frame later.
    found = clip_alerts(frames(P(1.5), P(1.5), P(1.5), P(1.5)), INFO)
    assert (found.alerts, found.first_alert_t, found.max_evidence) == (1, 0.2, pytest.approx(4.0))
    found = clip_alerts(frames(P(1.5), None, P(1.5), P(1.5)), INFO)
    assert (found.alerts, found.first_alert_t) == (1, 0.3)
    # Two tracks: each has its own evidence; the second alerts first.
    both = frames(P(1.5), P(1.5), P(1.5), track=1, start=1.0) + frames(P(1.5), P(1.5), P(1.5), track=2)
    assert clip_alerts(both, INFO).first_alert_t == 0.2 and clip_alerts(both, INFO).alerts == 2


def test_replay_applies_the_calibration_before_the_rule() -> None:
    rows = frames(P(1.5), P(1.5), P(1.5))
    assert clip_alerts(rows, INFO).alerts == 1
    # A calibration halving the log-odds: 0.75 - 0.5 = 0.25 per frame, never 3 in three frames.
    halved = replace(INFO, calibration=Calibration(0.5, 0.0, "platt"))
    assert clip_alerts(rows, halved).alerts == 0
    [again] = replay([outcome("f", 1, rows)], halved, ScoringConfig())
    assert again.alerts == 0 and again.video_score == pytest.approx(P(0.75))


def test_sweep_gives_the_alert_figures_for_each_bound() -> None:
    real = outcome("r", 0, frames(*[P(1.5)] * 5), duration=1800.0)  # evidence climbs to 5.0
    fake = outcome("f", 1, frames(*[P(2.0)] * 10))  # +1.5 per frame
    low, high = sweep([real, fake], INFO, [2.9, 5.9])  # just under 3 and 6: log-odds carry rounding
    assert low["false_alerts"]["alerts"] == 1 and low["false_alerts"]["per_hour"] == pytest.approx(2.0)
    assert low["time_to_first_alert"]["median_alerted_s"] == pytest.approx(0.1)  # 3.0 at the 2nd frame
    assert high["false_alerts"]["alerts"] == 0 and high["false_alerts"]["per_hour_upper95"] == pytest.approx(
        5.9915, abs=1e-3
    )
    assert high["time_to_first_alert"]["median_alerted_s"] == pytest.approx(0.3)  # 6.0 at the 4th frame


def test_excursions_and_the_bound_for_a_budget() -> None:
    # Real evidence: up 1, 2 then down to 0 (excursion peak 2), then up to 3 at the end (peak 3).
    rows = frames(P(1.5), P(1.5), P(-2.0), P(-2.0), P(1.5), P(1.5), P(1.5))
    real = outcome("r", 0, rows, duration=36.0)  # 0.01 h
    assert sorted(excursion_peaks([real], INFO)) == [2.0, 3.0]
    rule = replace(RULE, bound=100.0)
    chosen = choose_bound([real], replace(INFO, rule=rule), budget_per_hour=1.0)
    # 0.01 h x 1 per hour allows no alert: just above the highest peak. Two excursions are too few to
    # fit a tail to (it needs 11), so the counted bound stands.
    assert chosen["bound"] == pytest.approx(3.001) and chosen["extrapolated_bound"] is None
    assert chosen["alerts"] == 0 and chosen["allowed_alerts"] == 0


def test_the_tail_extrapolates_beyond_what_minutes_of_video_show() -> None:
    # Eleven tracks, each one excursion with peaks 1.0 … 11.0 (k = 10: u = 1.0, mean excess 5.5).
    rows = sum((frames(*[P(1.5)] * n, track=n) for n in range(1, 12)), ())
    real = outcome("r", 0, rows, duration=360.0)  # 0.1 h: 10 excursions above u in 0.1 h = 100 per hour
    chosen = choose_bound([real], replace(INFO, rule=replace(RULE, bound=100.0)), budget_per_hour=1.0)
    assert chosen["counted_bound"] == pytest.approx(11.001)
    assert chosen["extrapolated_bound"] == pytest.approx(1.0 + 5.5 * math.log(100.0))
    assert chosen["bound"] == chosen["extrapolated_bound"]


def test_scores_written_by_a_run_read_back_as_they_were(tmp_path: Path) -> None:
    rows = frames(P(1.5), None, P(0.3))
    original = [outcome("clip/a.mp4", 1, rows), outcome("b.mp4", 0, ())]
    write_outputs(tmp_path, {"per_family": {}}, original, roc=False)
    back = read_scores(tmp_path)
    assert [o.name for o in back] == ["clip/a.mp4", "b.mp4"]
    assert [(f.track, f.t, f.reason) for f in back[0].frames] == [(f.track, f.t, f.reason) for f in rows]
    assert [f.raw for f in back[0].frames] == [pytest.approx(f.raw, abs=1e-6) if f.raw else None for f in rows]
    assert back[1].frames == () and back[0].duration_s == 10.0 and back[0].status is ClipStatus.SCORED
