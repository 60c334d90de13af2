"""The sequential alert rule: known probability sequences give exact evidence, states and alert times."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.config import EventsConfig
from detector.evidence import AlertRule, TrackEvidence, rule_from
from detector.types import FaceState

# A probability whose log-odds is exactly x.
P = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731

RULE = AlertRule(bound=3.0, clip=2.0, drift=0.5, release=0.5, min_frames=2)


def run(probs: list[float | None], rule: AlertRule = RULE) -> list[tuple[float, FaceState, bool]]:
    track = TrackEvidence(rule)
    steps = [track.update(p, i / 10, p) for i, p in enumerate(probs)]  # rolling = the latest probability
    return [(round(s.evidence, 9), s.state, s.started) for s in steps]


def test_known_sequence_gives_exact_evidence_and_alert_times() -> None:
    # log-odds 1.5 adds 1.0 per frame (minus the drift 0.5); -1.0 takes 1.5 away.
    steps = run([P(1.5), P(1.5), P(1.5), P(1.5), P(-1.0), P(-1.0), P(1.5), P(1.5), P(1.5)])
    assert [s[0] for s in steps] == [1.0, 2.0, 3.0, 4.0, 2.5, 1.0, 2.0, 3.0, 4.0]
    # The bound (3) is reached at the 3rd frame: the alert starts there, at t = 0.2 s.
    assert [s[2] for s in steps].index(True) == 2
    # 2.5 is above the release level (1.5): still an alert; 1.0 is below it: the alert ends and the rule re-arms.
    assert [s[1] for s in steps] == [
        FaceState.GATHERING,  # 1 scored frame < min_frames
        FaceState.LIKELY_FAKE,  # 2.0 >= half the bound
        FaceState.ALERT,
        FaceState.ALERT,
        FaceState.ALERT,
        FaceState.UNCERTAIN,  # 1.0 >= 0.2 x the bound
        FaceState.LIKELY_FAKE,
        FaceState.ALERT,  # re-armed: a second alert starts at the 8th frame
        FaceState.ALERT,
    ]
    assert [i for i, s in enumerate(steps) if s[2]] == [2, 7]


def test_per_frame_log_odds_is_clipped_and_evidence_floored_at_zero() -> None:
    steps = run([0.999999, P(-10.0), P(-10.0)], AlertRule(bound=5.0, clip=2.0, drift=0.5, min_frames=1))
    assert [s[0] for s in steps] == [1.5, 0.0, 0.0]  # +2 - 0.5, then -2 - 0.5 floors at 0


def test_a_real_face_drains_back_to_zero_and_looks_real() -> None:
    steps = run([P(1.5), P(1.5)] + [P(0.2)] * 4)  # 0.2 - 0.5 = -0.3 per frame
    assert [s[0] for s in steps] == [1.0, 2.0, 1.7, 1.4, 1.1, 0.8]
    steps = run([P(0.4)] * 3)  # log-odds below the drift: nothing accumulates
    assert [s[0] for s in steps] == [0.0, 0.0, 0.0] and steps[-1][1] is FaceState.UNCERTAIN  # p > 0.5 still
    assert run([P(-1.0)] * 3)[-1][1] is FaceState.REAL


def test_abstained_frames_leave_the_evidence_unchanged() -> None:
    track = TrackEvidence(RULE)
    track.update(P(1.5), 0.0, None)
    track.update(P(1.5), 0.1, None)
    before = (track.evidence, track.scored, list(track.run), track.alerting)
    for i in range(20):
        step = track.update(None, 0.2 + i / 10, None)
        assert step.evidence == before[0] and not step.started
    assert (track.evidence, track.scored, list(track.run), track.alerting) == before


@given(
    before=st.lists(st.floats(0.0, 0.5), max_size=40),
    outlier=st.floats(0.5, 1.0),
    after=st.lists(st.floats(0.0, 0.5), max_size=40),
)
def test_a_single_outlier_frame_never_alerts(before: list[float], outlier: float, after: list[float]) -> None:
    """Faces that look real (p <= 0.5) with one frame of any probability, even 1.0, in between."""
    rule = AlertRule(bound=2.0, clip=2.0, drift=0.2, min_frames=1)
    assert not any(started for _, _, started in run([*before, outlier, *after], rule))


def test_the_frames_that_built_an_alert_are_kept() -> None:
    track = TrackEvidence(RULE)
    for i, p in enumerate([P(-1.0), P(1.5), P(1.5), P(1.5)]):
        step = track.update(p, i / 10, None)
    assert step.started
    assert [(f.t, round(f.increment, 9)) for f in track.run] == [(0.1, 1.0), (0.2, 1.0), (0.3, 1.0)]


def test_no_alert_before_min_frames_or_when_alerts_are_off() -> None:
    rule = AlertRule(bound=2.5, clip=2.0, drift=0.0, min_frames=4)
    steps = run([P(2.0)] * 5, rule)
    assert [s[2] for s in steps] == [False, False, False, True, False]  # evidence 4 at frame 2, alert at 4
    muted = TrackEvidence(rule, can_alert=False)
    states = [muted.update(P(2.0), i, None).state for i in range(5)]
    assert FaceState.ALERT not in states and states[-1] is FaceState.LIKELY_FAKE


def test_evidence_is_capped_so_an_alert_ends_soon_after_the_fake_stops() -> None:
    rule = AlertRule(bound=3.0, clip=2.0, drift=0.0, min_frames=1, cap=2.0)
    steps = run([P(2.0)] * 50 + [P(-2.0)] * 4, rule)
    assert max(s[0] for s in steps) == 6.0  # cap x bound
    assert [s[0] for s in steps[-4:]] == [4.0, 2.0, 0.0, 0.0]
    # 2.0 is still above the release level (1.5); the third real frame ends the alert.
    assert [s[1] for s in steps[-4:]] == [FaceState.ALERT, FaceState.ALERT, FaceState.REAL, FaceState.REAL]


def test_config_overrides_the_model_and_one_frame_may_never_reach_the_bound() -> None:
    stored = {"bound": 9.0, "clip": 1.0, "drift": 0.1}
    assert rule_from(EventsConfig(), stored) == AlertRule(bound=9.0, clip=1.0, drift=0.1)
    assert rule_from(EventsConfig(bound=4.0, drift=0.3), stored).bound == 4.0
    assert rule_from(EventsConfig(), {}) == AlertRule()  # a checkpoint without a rule: the defaults
    with pytest.raises(ValueError, match="one frame must not alert"):
        rule_from(EventsConfig(bound=1.0, frame_clip=2.0, drift=0.5), stored)
